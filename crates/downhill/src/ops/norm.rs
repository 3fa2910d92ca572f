//! Batch normalization with batch statistics as one op: the per-channel
//! moments in one pass each, the normalized output in one more, and a
//! backward of two reductions and one pass, instead of the dozen
//! full-size temporaries (and their broadcasts back) of the composite
//! formula. The arithmetic is PyTorch's CPU kernel's: moments accumulated in
//! `f64`, y = x·α + β with α = γ/√(var + ε) and β = b − mean·α.

use rayon::prelude::*;

use crate::autograd::{Backward, GradSink};
use crate::tensor::storage::{HasStorage, Storage};
use crate::tensor::{Element, Tensor};

use super::PAR_THRESHOLD;

/// The layout [N, C, S] of a batch-norm input (S: the elements of one
/// channel of one sample).
#[derive(Clone, Copy)]
struct Layout {
    n: usize,
    c: usize,
    s: usize,
}

impl Layout {
    /// Elements per channel over the batch.
    fn count(&self) -> f64 {
        (self.n * self.s) as f64
    }

    /// Channel `ch`'s N contiguous blocks of S, sample by sample.
    fn blocks<'a, T>(&self, x: &'a [T], ch: usize) -> impl Iterator<Item = &'a [T]> + 'a {
        let (c, s) = (self.c, self.s);
        (0..self.n).map(move |i| &x[(i * c + ch) * s..(i * c + ch + 1) * s])
    }

    /// `f(ch)` for each channel, in parallel when the input is large.
    fn per_channel<R: Send>(&self, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
        if self.n * self.c * self.s >= PAR_THRESHOLD {
            (0..self.c).into_par_iter().map(f).collect()
        } else {
            (0..self.c).map(f).collect()
        }
    }

    /// `f(b, block)` for each mutable block of S of `out` (block `b` is
    /// sample b / C, channel b % C), in parallel when the input is large.
    fn each_block<T: Send>(&self, out: &mut [T], f: impl Fn(usize, &mut [T]) + Sync + Send) {
        let s = self.s.max(1);
        if out.len() >= PAR_THRESHOLD {
            out.par_chunks_mut(s).enumerate().for_each(|(b, o)| f(b, o));
        } else {
            out.chunks_mut(s).enumerate().for_each(|(b, o)| f(b, o));
        }
    }
}

/// Σ f(a[i], b[i]) in `f64`, eight partial sums wide (so it vectorizes).
fn sum_pairs<T: Element>(a: &[T], b: &[T], f: impl Fn(f64, f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..8 {
            acc[j] += f(x[j].to_f64(), y[j].to_f64());
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += f(x.to_f64(), y.to_f64());
    }
    acc.iter().sum::<f64>() + tail
}

/// Σ f(a[i]) in `f64`, as [`sum_pairs`] does.
fn sum_map<T: Element>(a: &[T], f: impl Fn(f64) -> f64) -> f64 {
    sum_pairs(a, a, |v, _| f(v))
}

/// Per channel: the mean and the biased variance (two passes).
fn moments<T: Element>(x: &[T], l: Layout) -> Vec<(f64, f64)> {
    l.per_channel(|ch| {
        let m = l.count();
        let sum: f64 = l.blocks(x, ch).map(|b| sum_map(b, |v| v)).sum();
        let mean = sum / m;
        let sq: f64 = l
            .blocks(x, ch)
            .map(|b| sum_map(b, |v| (v - mean) * (v - mean)))
            .sum();
        (mean, sq / m)
    })
}

/// What the backward needs: the layout, each channel's mean and 1/√(var + ε),
/// γ as `f64` (1 without), and where γ and β are among the inputs.
struct BatchNorm {
    layout: Layout,
    mean: Vec<f64>,
    invstd: Vec<f64>,
    gamma: Vec<f64>,
    weight_input: Option<usize>,
    bias_input: Option<usize>,
}

impl BatchNorm {
    fn grads<T: Element + HasStorage>(
        &self,
        x: &[T],
        dy: &[T],
        sink: &mut GradSink,
        inputs: &[Tensor],
    ) {
        let l = self.layout;
        // Per channel: Σ dy and Σ dy·(x − mean).
        let sums: Vec<(f64, f64)> = l.per_channel(|ch| {
            let mean = self.mean[ch];
            let mut s = (0.0, 0.0);
            for (xb, gb) in l.blocks(x, ch).zip(l.blocks(dy, ch)) {
                s.0 += sum_map(gb, |g| g);
                s.1 += sum_pairs(xb, gb, |v, g| g * (v - mean));
            }
            s
        });
        if sink.wants(0) {
            let m = l.count();
            // dx = (dy − Σdy/M − (x − mean)·invstd²·Σdy(x − mean)/M)·invstd·γ
            let coef: Vec<[f64; 4]> = (0..l.c)
                .map(|ch| {
                    let (sum, dot) = sums[ch];
                    let invstd = self.invstd[ch];
                    [
                        self.mean[ch],
                        sum / m,
                        invstd * invstd * dot / m,
                        invstd * self.gamma[ch],
                    ]
                })
                .collect();
            let mut dx = crate::tensor::pool::overwritten::<T>(x.len());
            let s = l.s;
            l.each_block(&mut dx, |b, out| {
                let [mean, mean_dy, k, scale] = coef[b % l.c];
                let (xb, gb) = (&x[b * s..(b + 1) * s], &dy[b * s..(b + 1) * s]);
                for ((d, &v), &g) in out.iter_mut().zip(xb).zip(gb) {
                    *d = T::from_f64((g.to_f64() - mean_dy - (v.to_f64() - mean) * k) * scale);
                }
            });
            sink.add(
                0,
                Tensor::from_storage(T::wrap(dx), inputs[0].shape().to_vec()),
            );
        }
        if let Some(i) = self.weight_input.filter(|&i| sink.wants(i)) {
            let dw: Vec<T> = (0..l.c)
                .map(|ch| T::from_f64(sums[ch].1 * self.invstd[ch]))
                .collect();
            sink.add(i, Tensor::from_storage(T::wrap(dw), vec![l.c]));
        }
        if let Some(i) = self.bias_input.filter(|&i| sink.wants(i)) {
            let db: Vec<T> = sums.iter().map(|s| T::from_f64(s.0)).collect();
            sink.add(i, Tensor::from_storage(T::wrap(db), vec![l.c]));
        }
    }
}

impl Backward for BatchNorm {
    fn name(&self) -> &'static str {
        "batch_norm"
    }

    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let (xs, gs) = (inputs[0].read_storage(), grad.read_storage());
        match (&*xs, &*gs) {
            (Storage::F32(x), Storage::F32(g)) => self.grads(x, g, sink, inputs),
            (Storage::F64(x), Storage::F64(g)) => self.grads(x, g, sink, inputs),
            _ => unreachable!("batch_norm: the gradient has the input's dtype"),
        }
    }
}

/// y = x·α + β per channel, α = γ/√(var + ε), β = b − mean·α.
fn normalize<T: Element + HasStorage>(x: &[T], l: Layout, alpha: &[f64], beta: &[f64]) -> Storage {
    let mut y = crate::tensor::pool::overwritten::<T>(x.len());
    let s = l.s;
    l.each_block(&mut y, |b, out| {
        let (a, c) = (alpha[b % l.c], beta[b % l.c]);
        for (d, &v) in out.iter_mut().zip(&x[b * s..(b + 1) * s]) {
            *d = T::from_f64(v.to_f64() * a + c);
        }
    });
    T::wrap(y)
}

/// `f64` values of a per-channel parameter (`default` without one).
fn channel_values(t: Option<&Tensor>, c: usize, default: f64) -> Vec<f64> {
    t.map_or_else(|| vec![default; c], Tensor::to_vec_f64)
}

/// Batch normalization over dimension 1 with the batch's own statistics
/// (training mode): per channel, y = (x − mean)/√(var + ε)·γ + β with the
/// mean and biased variance over every other dimension. Returns y (recorded
/// as one op with inputs x, γ, β) and each channel's mean and biased
/// variance, for the running statistics.
///
/// **Panics** if x has fewer than 2 dimensions or γ, β are not `[C]` of x's dtype.
#[track_caller]
pub(crate) fn batch_norm_train(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> (Tensor, Vec<f64>, Vec<f64>) {
    assert!(
        x.ndim() >= 2,
        "batch_norm: input shape {:?} has no channel dimension",
        x.shape()
    );
    let (n, c) = (x.shape()[0], x.shape()[1]);
    for (what, t) in [("weight", weight), ("bias", bias)] {
        if let Some(t) = t {
            assert!(
                t.shape() == [c] && t.dtype() == x.dtype(),
                "batch_norm: {what} of shape {:?} ({}) does not fit input shape {:?} ({})",
                t.shape(),
                t.dtype(),
                x.shape(),
                x.dtype()
            );
        }
    }
    let layout = Layout {
        n,
        c,
        s: x.numel() / (n * c).max(1),
    };
    let stats = {
        let xs = x.read_storage();
        match &*xs {
            Storage::F32(v) => moments(v, layout),
            Storage::F64(v) => moments(v, layout),
        }
    };
    let (mean, var): (Vec<f64>, Vec<f64>) = stats.into_iter().unzip();
    let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let gamma = channel_values(weight, c, 1.0);
    let shift = channel_values(bias, c, 0.0);
    let alpha: Vec<f64> = invstd.iter().zip(&gamma).map(|(i, g)| i * g).collect();
    let beta: Vec<f64> = (0..c).map(|ch| shift[ch] - mean[ch] * alpha[ch]).collect();
    let y = {
        let xs = x.read_storage();
        match &*xs {
            Storage::F32(v) => normalize(v, layout, &alpha, &beta),
            Storage::F64(v) => normalize(v, layout, &alpha, &beta),
        }
    };
    let mut inputs = vec![x];
    let weight_input = weight.map(|w| {
        inputs.push(w);
        inputs.len() - 1
    });
    let bias_input = bias.map(|b| {
        inputs.push(b);
        inputs.len() - 1
    });
    let op = BatchNorm {
        layout,
        mean: mean.clone(),
        invstd,
        gamma,
        weight_input,
        bias_input,
    };
    let out = Tensor::from_op(y, x.shape().to_vec(), &inputs, op);
    (out, mean, var)
}
