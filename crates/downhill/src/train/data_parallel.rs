//! Data-parallel training over a [`Communicator`] (PyTorch DDP / Horovod
//! style): every process holds the whole model, trains on its share of each
//! global batch, and the gradients are summed with an allreduce in buckets,
//! so every process applies the same update.
//!
//! - **Start**: parameters and buffers are broadcast from rank 0
//!   ([`broadcast_model`]), and the processes check that they were given the
//!   same run ([`check_same_run`]).
//! - **Sharding**: every process draws the same permutation of the epoch
//!   from the shared seed (the one loader), and takes its contiguous slice
//!   of every global batch ([`shard_range`]); the batch size stays the
//!   *global* batch. When it does not divide by N, the slices differ by one
//!   sample, and each process weighs its loss (so its gradient) by its share
//!   `n_r / n` of the batch: the sum over processes is the global batch mean
//!   whatever N is. A process whose slice is empty contributes zeros.
//! - **Reduction** ([`GradientReducer`]): gradients packed into buckets of
//!   at most `bucket_bytes` (25 MiB by default, like DDP), in reverse
//!   parameter order (the order backward produces them), one allreduce per
//!   bucket; one more small `f64` allreduce carries the micro-batch losses
//!   and which parameters have a gradient at all. The sums are in rank order
//!   ([`Communicator::all_reduce_sum_f32`]), so the same N gives
//!   bit-identical runs.

use std::ops::Range;
use std::sync::Arc;

use super::comm::Communicator;
use super::epoch_summary::EpochSummary;
use super::update::Reducer;
use crate::nn::Module;
use crate::{DType, Error, Gradients, Result, Tensor};

/// PyTorch DDP's default bucket size, 25 MiB.
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// The slice of a global batch of `len` samples that rank `rank` of `size`
/// trains on: contiguous, disjoint, covering `0..len`, the sizes differing
/// by at most one (`len·r/size .. len·(r+1)/size`).
///
/// ```
/// use downhill::train::shard_range;
/// let parts: Vec<_> = (0..3).map(|r| shard_range(128, r, 3)).collect();
/// assert_eq!(parts, vec![0..42, 42..85, 85..128]);
/// assert_eq!(shard_range(1, 1, 2), 0..1); // rank 0's slice is empty
/// ```
///
/// # Panics
/// If `rank >= size`.
pub fn shard_range(len: usize, rank: usize, size: usize) -> Range<usize> {
    assert!(rank < size, "shard_range: rank {rank} of {size} processes");
    (len * rank / size)..(len * (rank + 1) / size)
}

/// Replaces every parameter and buffer of `model` with rank 0's, so all
/// processes start equal.
pub(super) fn broadcast_model(model: &dyn Module, comm: &dyn Communicator) {
    if comm.size() == 1 {
        return;
    }
    for (_, t) in model.state_dict() {
        match t.dtype() {
            DType::F32 => t.update_::<f32, _>(|d| comm.broadcast_f32(d, 0)),
            DType::F64 => t.update_::<f64, _>(|d| comm.broadcast_f64(d, 0)),
        }
    }
}

/// Refuses a run whose processes disagree on what they train (a different
/// data file, model or batch on some host would otherwise hang or mix
/// gradients of different shapes): every process gathers `facts` and
/// compares them with rank 0's.
///
/// # Errors
/// On every process, naming the first rank and fact that differ.
pub(super) fn check_same_run(comm: &dyn Communicator, facts: &[(&str, f64)]) -> Result<()> {
    if comm.size() == 1 {
        return Ok(());
    }
    let values: Vec<f64> = facts.iter().map(|f| f.1).collect();
    let all = comm.all_gather_f64(&values);
    for (r, theirs) in all.chunks(values.len()).enumerate().skip(1) {
        for (i, (name, _)) in facts.iter().enumerate() {
            if theirs[i].to_bits() != all[i].to_bits() {
                return Err(Error::InvalidArgument {
                    name: "MPI".into(),
                    message: format!(
                        "process {r} has {name} {} but process 0 has {}; every process must be started with the same data, model and settings",
                        theirs[i], all[i]
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Whether any process raised its flag: each of `flags` is summed over the
/// processes (a stop asked for by one, a Ctrl-C seen by one, stops all at
/// the same step).
pub(super) fn any_process(comm: &dyn Communicator, flags: &mut [bool]) {
    if comm.size() == 1 {
        return;
    }
    let mut v: Vec<f64> = flags.iter().map(|&f| f64::from(u8::from(f))).collect();
    comm.all_reduce_sum_f64(&mut v);
    for (f, s) in flags.iter_mut().zip(v) {
        *f = s > 0.0;
    }
}

/// A run of consecutive parameters (in reduction order) of one dtype,
/// reduced by one allreduce.
#[derive(Clone, Debug, PartialEq)]
struct Bucket {
    dtype: DType,
    /// Indices into the parameter list.
    params: Vec<usize>,
    /// Elements in all.
    len: usize,
}

/// Groups `params` (visited last to first) into buckets of one dtype and
/// at most `bucket_bytes` each (a larger parameter gets a bucket of its own).
fn plan_buckets(params: &[Tensor], bucket_bytes: usize) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = vec![];
    for (i, p) in params.iter().enumerate().rev() {
        let (dtype, n) = (p.dtype(), p.numel());
        let width = match dtype {
            DType::F32 => 4,
            DType::F64 => 8,
        };
        match out.last_mut() {
            Some(b) if b.dtype == dtype && (b.len + n) * width <= bucket_bytes => {
                b.params.push(i);
                b.len += n;
            }
            _ => out.push(Bucket {
                dtype,
                params: vec![i],
                len: n,
            }),
        }
    }
    out
}

/// The data-parallel [`Reducer`]: sums each step's gradients and
/// micro-batch losses over every process, in buckets (see the module docs).
pub(super) struct GradientReducer {
    comm: Arc<dyn Communicator>,
    params: Vec<Tensor>,
    buckets: Vec<Bucket>,
    buf32: Vec<f32>,
    buf64: Vec<f64>,
}

impl GradientReducer {
    /// A reducer of the gradients of `params` over `comm`.
    pub(super) fn new(
        comm: Arc<dyn Communicator>,
        params: Vec<Tensor>,
        bucket_bytes: usize,
    ) -> Self {
        let buckets = plan_buckets(&params, bucket_bytes.max(1));
        GradientReducer {
            comm,
            params,
            buckets,
            buf32: vec![],
            buf64: vec![],
        }
    }

    /// Sums one bucket's gradients over the processes and puts them into `out`
    /// (for the parameters some process has a gradient for: `present`).
    fn reduce_bucket(
        &mut self,
        b: usize,
        grads: &Gradients,
        present: &[bool],
        out: &mut Gradients,
    ) {
        let bucket = &self.buckets[b];
        match bucket.dtype {
            DType::F32 => {
                let buf = &mut self.buf32;
                pack(buf, bucket, &self.params, grads);
                self.comm.all_reduce_sum_f32(buf);
                unpack(buf, bucket, &self.params, present, out, Tensor::from_slice);
            }
            DType::F64 => {
                let buf = &mut self.buf64;
                pack(buf, bucket, &self.params, grads);
                self.comm.all_reduce_sum_f64(buf);
                unpack(buf, bucket, &self.params, present, out, Tensor::from_slice);
            }
        }
    }
}

/// Copies the bucket's gradients into `buf` (zeros where there is none).
fn pack<T: crate::Element>(
    buf: &mut Vec<T>,
    bucket: &Bucket,
    params: &[Tensor],
    grads: &Gradients,
) {
    buf.clear();
    for &i in &bucket.params {
        let p = &params[i];
        match grads.get(p) {
            Some(g) => g.with_data::<T, _>(|d| buf.extend_from_slice(d)),
            None => buf.resize(buf.len() + p.numel(), T::default()),
        }
    }
}

/// New gradient tensors from the summed `buf`, one per parameter present.
fn unpack<T>(
    buf: &[T],
    bucket: &Bucket,
    params: &[Tensor],
    present: &[bool],
    out: &mut Gradients,
    tensor: impl Fn(&[T], &[usize]) -> Tensor,
) {
    let mut at = 0;
    for &i in &bucket.params {
        let p = &params[i];
        let n = p.numel();
        if present[i] {
            out.insert(p, tensor(&buf[at..at + n], p.shape()));
        }
        at += n;
    }
}

impl Reducer for GradientReducer {
    fn reduce_step(&mut self, grads: &mut Gradients, losses: &mut [f64]) {
        if self.comm.size() == 1 {
            return;
        }
        // One small f64 allreduce: which parameters have a gradient on some
        // process, and the micro-batch losses.
        let np = self.params.len();
        let mut scalars: Vec<f64> = self
            .params
            .iter()
            .map(|p| f64::from(u8::from(grads.get(p).is_some())))
            .collect();
        scalars.extend_from_slice(losses);
        self.comm.all_reduce_sum_f64(&mut scalars);
        let present: Vec<bool> = scalars[..np].iter().map(|&s| s > 0.0).collect();
        losses.copy_from_slice(&scalars[np..]);
        let mut out = Gradients::new();
        for b in 0..self.buckets.len() {
            self.reduce_bucket(b, grads, &present, &mut out);
        }
        *grads = out;
    }

    fn reduce_epoch(&mut self, _summary: &mut EpochSummary) {
        // The summary is built from reduced batch losses: equal everywhere.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::SingleProcess;

    #[test]
    fn shards_cover_a_batch_once_for_any_number_of_processes() {
        for len in [0usize, 1, 2, 5, 127, 128] {
            for size in 1..=5 {
                let mut seen = vec![0u32; len];
                let mut sizes = vec![];
                for r in 0..size {
                    let s = shard_range(len, r, size);
                    sizes.push(s.len());
                    for i in s {
                        seen[i] += 1;
                    }
                }
                assert!(seen.iter().all(|&c| c == 1), "len {len} size {size}");
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(hi - lo <= 1, "len {len} size {size}: {sizes:?}");
            }
        }
    }

    #[test]
    fn buckets_follow_backward_order_and_respect_their_size() {
        let ps = vec![
            Tensor::zeros(&[10, 10]),
            Tensor::zeros(&[10]),
            Tensor::zeros(&[3]).to_dtype(DType::F64),
            Tensor::zeros(&[300]),
            Tensor::zeros(&[20]),
        ];
        let b = plan_buckets(&ps, 400 * 4);
        let got: Vec<(DType, Vec<usize>, usize)> =
            b.into_iter().map(|b| (b.dtype, b.params, b.len)).collect();
        assert_eq!(
            got,
            vec![
                (DType::F32, vec![4, 3], 320),
                (DType::F64, vec![2], 3),
                (DType::F32, vec![1, 0], 110),
            ]
        );
    }

    #[test]
    fn one_process_reduces_nothing_and_agrees_with_itself() {
        let w = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).requires_grad_(true);
        let mut r = GradientReducer::new(Arc::new(SingleProcess), vec![w.clone()], 8);
        let mut g = (&w * &w).sum().backward();
        let mut losses = [0.25];
        r.reduce_step(&mut g, &mut losses);
        assert_eq!(g.get(&w).unwrap().to_vec_f32(), vec![2.0, 4.0]);
        assert_eq!(losses, [0.25]);
        assert!(check_same_run(&SingleProcess, &[("samples", 3.0)]).is_ok());
        let mut flags = [true, false];
        any_process(&SingleProcess, &mut flags);
        assert_eq!(flags, [true, false]);
    }
}
