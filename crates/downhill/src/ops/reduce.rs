//! sum, mean, var, max/min along axes, and logsumexp.

use rayon::prelude::*;

use crate::autograd::{Backward, GradSink};
use crate::tensor::shape::{normalize_axis, outer_dim_inner};
use crate::tensor::storage::{dispatch, HasStorage};
use crate::tensor::{Element, Tensor};

/// Fixed chunk for parallel sums: results never depend on the thread count.
const SUM_CHUNK: usize = 1 << 14;

/// Sum of a slice: 8 running lanes (vectorizes, and is more accurate than one
/// running total), in fixed chunks summed in order, chunks in parallel.
pub(crate) fn sum_slice<T: Element>(v: &[T]) -> T {
    if v.len() >= 4 * SUM_CHUNK {
        let partial: Vec<T> = v.par_chunks(SUM_CHUNK).map(lanes_sum).collect();
        partial.into_iter().fold(T::ZERO, |a, b| a + b)
    } else {
        v.chunks(SUM_CHUNK)
            .map(lanes_sum)
            .fold(T::ZERO, |a, b| a + b)
    }
}

fn lanes_sum<T: Element>(v: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for k in 0..8 {
            acc[k] += c[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &x in chunks.remainder() {
        s += x;
    }
    s
}

/// Sums axis `axis` of a tensor of shape `shape` (the axis kept with size 1).
fn sum_axis_kernel<T: Element>(x: &[T], shape: &[usize], axis: usize) -> Vec<T> {
    let (outer, dim, inner) = outer_dim_inner(shape, axis);
    if dim == 0 {
        return vec![T::ZERO; outer * inner];
    }
    if inner == 1 {
        return super::map_rows(x, dim, |row| lanes_sum(row));
    }
    let mut out = vec![T::ZERO; outer * inner];
    for o in 0..outer {
        let dst = &mut out[o * inner..(o + 1) * inner];
        for d in 0..dim {
            let src = &x[(o * dim + d) * inner..(o * dim + d + 1) * inner];
            dst.iter_mut().zip(src).for_each(|(a, &b)| *a += b);
        }
    }
    out
}

/// The normalized, sorted, deduplicated axes; all axes when `dims` is empty.
#[track_caller]
fn axes(op: &str, dims: &[isize], ndim: usize) -> Vec<usize> {
    let mut a: Vec<usize> = if dims.is_empty() {
        (0..ndim).collect()
    } else {
        dims.iter().map(|&d| normalize_axis(op, d, ndim)).collect()
    };
    a.sort_unstable();
    a.dedup();
    a
}

fn reduced_shape(shape: &[usize], axes: &[usize], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, &d)| {
            if axes.contains(&i) {
                keepdim.then_some(1)
            } else {
                Some(d)
            }
        })
        .collect()
}

struct Sum {
    keep_shape: Vec<usize>,
}

impl Backward for Sum {
    fn name(&self) -> &'static str {
        "sum"
    }
    // d Σx / dx = 1: the gradient is broadcast back over the summed axes.
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let g = grad
            .reshape(&self.keep_shape)
            .broadcast_to(inputs[0].shape());
        sink.add(0, g);
    }
}

impl Tensor {
    /// Sum of all elements (a 0-d tensor).
    ///
    /// ```
    /// let t = downhill::Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    /// assert_eq!(t.sum().item(), 6.0);
    /// ```
    pub fn sum(&self) -> Tensor {
        self.sum_dims(&[], false)
    }

    /// Sum over the axes `dims` (all axes if empty; negative counts from the
    /// end), keeping them with size 1 if `keepdim`.
    ///
    /// **Panics** if an axis is out of range.
    #[track_caller]
    pub fn sum_dims(&self, dims: &[isize], keepdim: bool) -> Tensor {
        let ax = axes("sum", dims, self.ndim());
        let keep_shape = reduced_shape(self.shape(), &ax, true);
        let out_shape = reduced_shape(self.shape(), &ax, keepdim);
        let s = {
            let s = self.read_storage();
            dispatch!(&*s, |x: T| {
                let v: Vec<T> = if ax.len() == self.ndim() {
                    vec![sum_slice(x)]
                } else {
                    let mut shape = self.shape().to_vec();
                    let mut cur: Option<Vec<T>> = None;
                    for &a in ax.iter().rev() {
                        let src: &[T] = cur.as_deref().unwrap_or(x);
                        let next = sum_axis_kernel(src, &shape, a);
                        shape[a] = 1;
                        cur = Some(next);
                    }
                    cur.unwrap_or_else(|| x.to_vec())
                };
                T::wrap(v)
            })
        };
        Tensor::from_op(s, out_shape, &[self], Sum { keep_shape })
    }

    /// Mean of all elements.
    pub fn mean(&self) -> Tensor {
        self.mean_dims(&[], false)
    }

    /// Mean over the axes `dims` (all if empty).
    #[track_caller]
    pub fn mean_dims(&self, dims: &[isize], keepdim: bool) -> Tensor {
        let ax = axes("mean", dims, self.ndim());
        let n: usize = ax.iter().map(|&a| self.shape()[a]).product();
        self.sum_dims(dims, keepdim).div_scalar(n as f64)
    }

    /// Variance of all elements with Bessel's `correction` (PyTorch's default
    /// is 1: divide by n − 1).
    pub fn var(&self, correction: usize) -> Tensor {
        self.var_dims(&[], correction, false)
    }

    /// Variance over the axes `dims`: Σ(x − mean)² / (n − correction).
    #[track_caller]
    pub fn var_dims(&self, dims: &[isize], correction: usize, keepdim: bool) -> Tensor {
        let ax = axes("var", dims, self.ndim());
        let n: usize = ax.iter().map(|&a| self.shape()[a]).product();
        let centered = self - &self.mean_dims(dims, true);
        let denom = n.saturating_sub(correction) as f64;
        centered.square().sum_dims(dims, keepdim).div_scalar(denom)
    }

    /// Largest element along `dim` (values; see [`Tensor::argmax`] for positions).
    /// The gradient goes to the first position of the maximum, as in PyTorch.
    #[track_caller]
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        extreme(self, dim, keepdim, true)
    }

    /// Smallest element along `dim`.
    #[track_caller]
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        extreme(self, dim, keepdim, false)
    }

    /// Largest element overall (0-d).
    pub fn max(&self) -> Tensor {
        self.reshape(&[self.numel()]).max_dim(0, false)
    }

    /// Smallest element overall (0-d).
    pub fn min(&self) -> Tensor {
        self.reshape(&[self.numel()]).min_dim(0, false)
    }

    /// Positions of the largest elements along `dim` (first one on ties).
    #[track_caller]
    pub fn argmax(&self, dim: isize) -> Vec<usize> {
        let a = normalize_axis("argmax", dim, self.ndim());
        dispatch!(&*self.read_storage(), |x: T| arg_extreme(
            x,
            self.shape(),
            a,
            true
        ))
    }

    /// Positions of the smallest elements along `dim` (first one on ties).
    #[track_caller]
    pub fn argmin(&self, dim: isize) -> Vec<usize> {
        let a = normalize_axis("argmin", dim, self.ndim());
        dispatch!(&*self.read_storage(), |x: T| arg_extreme(
            x,
            self.shape(),
            a,
            false
        ))
    }

    /// ln Σ exp(x) over `dims`, computed stably (the max is subtracted first).
    #[track_caller]
    pub fn logsumexp(&self, dims: &[isize], keepdim: bool) -> Tensor {
        let ax = axes("logsumexp", dims, self.ndim());
        let mut m = crate::no_grad(|| {
            let mut m = self.clone();
            for &a in &ax {
                m = m.max_dim(a as isize, true);
            }
            m
        });
        // An all −∞ slice would give −∞ − (−∞) = NaN: shift by 0 there instead.
        m = crate::no_grad(|| {
            let v = m
                .to_vec_f64()
                .into_iter()
                .map(|x| if x.is_finite() { x } else { 0.0 })
                .collect::<Vec<_>>();
            Tensor::from_f64_slice(&v, m.shape(), m.dtype())
        });
        let s = (self - &m).exp().sum_dims(dims, true).log() + &m;
        if keepdim {
            s
        } else {
            s.reshape(&reduced_shape(self.shape(), &ax, false))
        }
    }
}

/// Index within the axis of the max/min of each (outer, inner) line.
fn arg_extreme<T: Element>(x: &[T], shape: &[usize], axis: usize, is_max: bool) -> Vec<usize> {
    let (outer, dim, inner) = outer_dim_inner(shape, axis);
    assert!(
        dim > 0,
        "argmax/argmin: axis {axis} of shape {shape:?} is empty"
    );
    let mut out = vec![0usize; outer * inner];
    for o in 0..outer {
        for i in 0..inner {
            let mut best = x[o * dim * inner + i];
            let mut bi = 0;
            for d in 1..dim {
                let v = x[(o * dim + d) * inner + i];
                let better = if is_max { v > best } else { v < best };
                if better || (v.is_nan() && !best.is_nan()) {
                    best = v;
                    bi = d;
                }
            }
            out[o * inner + i] = bi;
        }
    }
    out
}

struct Extreme {
    axis: usize,
    idx: Vec<usize>,
    keep_shape: Vec<usize>,
}

#[track_caller]
fn extreme(x: &Tensor, dim: isize, keepdim: bool, is_max: bool) -> Tensor {
    let op = if is_max { "max_dim" } else { "min_dim" };
    let axis = normalize_axis(op, dim, x.ndim().max(1));
    let shape = if x.ndim() == 0 {
        vec![1]
    } else {
        x.shape().to_vec()
    };
    let keep_shape = reduced_shape(&shape, &[axis], true);
    let out_shape = reduced_shape(&shape, &[axis], keepdim);
    let (s, idx) = {
        let s = x.read_storage();
        dispatch!(&*s, |v: T| {
            let idx = arg_extreme(v, &shape, axis, is_max);
            let (_, dim, inner) = outer_dim_inner(&shape, axis);
            let vals: Vec<T> = idx
                .iter()
                .enumerate()
                .map(|(j, &d)| v[((j / inner) * dim + d) * inner + j % inner])
                .collect();
            (T::wrap(vals), idx)
        })
    };
    Tensor::from_op(
        s,
        out_shape,
        &[x],
        Extreme {
            axis,
            idx,
            keep_shape,
        },
    )
}

impl Backward for Extreme {
    fn name(&self) -> &'static str {
        "max_dim"
    }
    // d max/dx = 1 at the chosen position, 0 elsewhere.
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let x = &inputs[0];
        let shape = if x.ndim() == 0 {
            vec![1]
        } else {
            x.shape().to_vec()
        };
        let (_, dim, inner) = outer_dim_inner(&shape, self.axis);
        let g = grad.reshape(&self.keep_shape);
        let s = dispatch!(&*g.read_storage(), |gv: T| {
            let mut out = vec![T::ZERO; x.numel()];
            for (j, &d) in self.idx.iter().enumerate() {
                out[((j / inner) * dim + d) * inner + j % inner] = gv[j];
            }
            T::wrap(out)
        });
        sink.add(0, Tensor::from_storage(s, x.shape().to_vec()));
    }
}
