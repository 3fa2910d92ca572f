//! Validation metrics of a data-parallel run: each process evaluates its
//! share of the validation set ([`shard_range`]) and the counts and sums the
//! metrics are made of are summed over the processes, so the metrics are
//! those of the whole set (not averages of per-process averages).

use super::comm::Communicator;
use super::data_parallel::shard_range;
use super::metrics::{outputs, ClassCounts, Metrics, Outputs, RegressionSums};
use crate::data::Dataset;
use crate::loss::Loss;
use crate::nn::Module;

/// [`evaluate`](super::evaluate) of `model` on `data`, shared over the
/// processes of `comm`: every process must call it (with the same model and
/// data) and gets the same metrics, equal to a single process's up to the
/// order of the sums. One process: exactly [`evaluate`](super::evaluate).
///
/// ```
/// use downhill::data::TensorDataset;
/// use downhill::loss::MseLoss;
/// use downhill::nn::Linear;
/// use downhill::train::{evaluate, evaluate_sharded, SingleProcess};
/// use downhill::{Generator, Tensor};
///
/// let data = TensorDataset::regression(Tensor::ones(&[5, 1]), &Tensor::zeros(&[5, 1]));
/// let model = Linear::new(1, 1, true, &mut Generator::new(0));
/// let loss = MseLoss::default();
/// let m = evaluate_sharded(&model, &loss, &data, &SingleProcess);
/// assert_eq!(m, evaluate(&model, &loss, &data));
/// ```
pub fn evaluate_sharded(
    model: &dyn Module,
    loss: &dyn Loss,
    data: &dyn Dataset,
    comm: &dyn Communicator,
) -> Metrics {
    let n = data.len();
    let rows = shard_range(n, comm.rank(), comm.size());
    let o = outputs(model, loss, data, rows);
    let mut loss_sum = [o.loss_sum];
    comm.all_reduce_sum_f64(&mut loss_sum);
    let mut m = match &o.kind {
        Outputs::Classes { pred, truth } => {
            let k_local = pred.iter().chain(truth).copied().max().map_or(0, |m| m + 1);
            let k = max_over(comm, k_local);
            let mut c = ClassCounts::of(pred, truth, k);
            comm.all_reduce_sum_f64(&mut c.counts);
            c.metrics()
        }
        Outputs::Values { pred, truth } => {
            let width = max_over(comm, if pred.is_empty() { 0 } else { o.width }).max(1);
            let mut sums = RegressionSums::first_pass(pred, truth, width);
            comm.all_reduce_sum_f64(&mut sums.first);
            let mean = sums.column_means();
            sums.second_pass(pred, truth, &mean);
            comm.all_reduce_sum_f64(&mut sums.second);
            sums.metrics()
        }
    };
    m.insert("loss".into(), loss_sum[0] / n.max(1) as f64);
    m
}

/// The largest of every process's `v`.
fn max_over(comm: &dyn Communicator, v: usize) -> usize {
    comm.all_gather_f64(&[v as f64])
        .into_iter()
        .fold(0.0f64, f64::max) as usize
}
