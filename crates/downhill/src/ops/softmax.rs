//! softmax and log_softmax along an axis: fused, numerically stable kernels
//! (the max is subtracted first, so logits of ±1000 stay finite).

use crate::autograd::{Backward, GradSink};
use crate::tensor::shape::{normalize_axis, outer_dim_inner};
use crate::tensor::storage::{HasStorage, Storage};
use crate::tensor::{Element, Tensor};

/// Applies `f` to every line along the axis, gathered into a contiguous buffer
/// when the axis is not the last.
fn lines<T: Element>(
    x: &[T],
    shape: &[usize],
    axis: usize,
    f: impl Fn(&[T], &mut [T]) + Sync + Send,
) -> Vec<T> {
    let (outer, dim, inner) = outer_dim_inner(shape, axis);
    let mut out = vec![T::ZERO; x.len()];
    if inner == 1 {
        use rayon::prelude::*;
        if x.len() >= super::PAR_THRESHOLD {
            out.par_chunks_mut(dim)
                .zip(x.par_chunks(dim))
                .for_each(|(o, l)| f(l, o));
        } else {
            out.chunks_mut(dim)
                .zip(x.chunks(dim))
                .for_each(|(o, l)| f(l, o));
        }
        return out;
    }
    let mut buf = vec![T::ZERO; dim];
    let mut res = vec![T::ZERO; dim];
    for o in 0..outer {
        for i in 0..inner {
            for d in 0..dim {
                buf[d] = x[(o * dim + d) * inner + i];
            }
            f(&buf, &mut res);
            for d in 0..dim {
                out[(o * dim + d) * inner + i] = res[d];
            }
        }
    }
    out
}

fn softmax_line<T: Element>(x: &[T], out: &mut [T]) {
    let m = x
        .iter()
        .copied()
        .fold(T::infinity().neg(), |a, b| a.max_nan(b));
    let m = if m.is_finite() { m } else { T::ZERO };
    let mut s = T::ZERO;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = (v - m).exp();
        s += *o;
    }
    for o in out.iter_mut() {
        *o /= s;
    }
}

fn log_softmax_line<T: Element>(x: &[T], out: &mut [T]) {
    let m = x
        .iter()
        .copied()
        .fold(T::infinity().neg(), |a, b| a.max_nan(b));
    let m = if m.is_finite() { m } else { T::ZERO };
    let s: T = x.iter().map(|&v| (v - m).exp()).sum();
    let lse = s.ln();
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v - m - lse;
    }
}

struct Softmax {
    axis: usize,
    log: bool,
}

impl Backward for Softmax {
    fn name(&self) -> &'static str {
        if self.log {
            "log_softmax"
        } else {
            "softmax"
        }
    }
    // softmax:     dx = y ⊙ (g − Σ g⊙y)
    // log_softmax: dx = g − eʸ ⊙ Σ g
    fn backward(&self, _inputs: &[Tensor], out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let shape = out.shape().to_vec();
        let (outer, dim, inner) = outer_dim_inner(&shape, self.axis);
        let (y, g) = (out.read_storage(), grad.read_storage());
        let s = match (&*y, &*g) {
            (Storage::F32(y), Storage::F32(g)) => {
                f32::wrap(softmax_grad(y, g, outer, dim, inner, self.log))
            }
            (Storage::F64(y), Storage::F64(g)) => {
                f64::wrap(softmax_grad(y, g, outer, dim, inner, self.log))
            }
            _ => unreachable!("softmax backward: gradient dtype matches"),
        };
        sink.add(0, Tensor::from_storage(s, shape));
    }
}

fn softmax_grad<T: Element>(
    y: &[T],
    g: &[T],
    outer: usize,
    dim: usize,
    inner: usize,
    log: bool,
) -> Vec<T> {
    let mut dx = vec![T::ZERO; y.len()];
    for o in 0..outer {
        for i in 0..inner {
            let at = |d: usize| (o * dim + d) * inner + i;
            if log {
                let sg: T = (0..dim).map(|d| g[at(d)]).sum();
                for d in 0..dim {
                    dx[at(d)] = g[at(d)] - y[at(d)].exp() * sg;
                }
            } else {
                let dot: T = (0..dim).map(|d| g[at(d)] * y[at(d)]).sum();
                for d in 0..dim {
                    dx[at(d)] = y[at(d)] * (g[at(d)] - dot);
                }
            }
        }
    }
    dx
}

fn softmax_op(x: &Tensor, dim: isize, log: bool) -> Tensor {
    let op = if log { "log_softmax" } else { "softmax" };
    let axis = normalize_axis(op, dim, x.ndim().max(1));
    let shape = if x.ndim() == 0 {
        vec![1]
    } else {
        x.shape().to_vec()
    };
    let s = {
        let s = x.read_storage();
        match &*s {
            Storage::F32(v) => f32::wrap(if log {
                lines(v, &shape, axis, log_softmax_line)
            } else {
                lines(v, &shape, axis, softmax_line)
            }),
            Storage::F64(v) => f64::wrap(if log {
                lines(v, &shape, axis, log_softmax_line)
            } else {
                lines(v, &shape, axis, softmax_line)
            }),
        }
    };
    Tensor::from_op(s, x.shape().to_vec(), &[x], Softmax { axis, log })
}

impl Tensor {
    /// eˣ / Σ eˣ along `dim`, computed stably.
    ///
    /// ```
    /// let t = downhill::Tensor::from_vec(vec![1000.0f32, 1000.0], &[2]);
    /// assert_eq!(t.softmax(-1).to_vec_f32(), vec![0.5, 0.5]);
    /// ```
    #[track_caller]
    pub fn softmax(&self, dim: isize) -> Tensor {
        softmax_op(self, dim, false)
    }

    /// x − ln Σ eˣ along `dim`, computed stably.
    #[track_caller]
    pub fn log_softmax(&self, dim: isize) -> Tensor {
        softmax_op(self, dim, true)
    }
}
