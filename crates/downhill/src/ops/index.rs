//! index_select, gather, where and masked_fill.

use crate::autograd::{Backward, GradSink};
use crate::tensor::shape::{broadcast_shapes, normalize_axis, outer_dim_inner};
use crate::tensor::storage::{dispatch, HasStorage, Storage};
use crate::tensor::{Element, Tensor};

struct IndexSelect {
    dim: usize,
    idx: Vec<usize>,
}
impl Backward for IndexSelect {
    fn name(&self) -> &'static str {
        "index_select"
    }
    // Each selected slice's gradient is added back at its source (repeats sum).
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let x = &inputs[0];
        let (outer, dim, inner) = outer_dim_inner(x.shape(), self.dim);
        let k = self.idx.len();
        let s = dispatch!(&*grad.read_storage(), |g: T| {
            let mut out = vec![T::ZERO; x.numel()];
            for o in 0..outer {
                for (j, &i) in self.idx.iter().enumerate() {
                    let dst = &mut out[(o * dim + i) * inner..(o * dim + i + 1) * inner];
                    let src = &g[(o * k + j) * inner..(o * k + j + 1) * inner];
                    dst.iter_mut().zip(src).for_each(|(a, &b)| *a += b);
                }
            }
            T::wrap(out)
        });
        sink.add(0, Tensor::from_storage(s, x.shape().to_vec()));
    }
}

struct Gather {
    dim: usize,
    idx: Vec<usize>,
}
impl Backward for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }
    // Scatter-add: each gathered element's gradient returns to its source.
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let x = &inputs[0];
        let (outer, dim, inner) = outer_dim_inner(x.shape(), self.dim);
        let k = self.idx.len() / (outer * inner).max(1);
        let s = dispatch!(&*grad.read_storage(), |g: T| {
            let mut out = vec![T::ZERO; x.numel()];
            for o in 0..outer {
                for j in 0..k {
                    for i in 0..inner {
                        let p = (o * k + j) * inner + i;
                        out[(o * dim + self.idx[p]) * inner + i] += g[p];
                    }
                }
            }
            T::wrap(out)
        });
        sink.add(0, Tensor::from_storage(s, x.shape().to_vec()));
    }
}

struct Where;
impl Backward for Where {
    fn name(&self) -> &'static str {
        "where"
    }
    // d/da = cond, d/db = 1 − cond (the condition gets no gradient).
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let cond = inputs[0].broadcast_to(grad.shape()).ne_zero();
        let zero = grad.zeros_like();
        if sink.wants(1) {
            let g = select(&cond, grad, &zero);
            sink.add(1, super::binary::sum_to_shape(&g, inputs[1].shape()));
        }
        if sink.wants(2) {
            let g = select(&cond, &zero, grad);
            sink.add(2, super::binary::sum_to_shape(&g, inputs[2].shape()));
        }
    }
}

/// `cond ? a : b` for equally shaped operands, no graph.
fn select(cond: &[bool], a: &Tensor, b: &Tensor) -> Tensor {
    let (sa, sb) = (a.read_storage(), b.read_storage());
    let s = match (&*sa, &*sb) {
        (Storage::F32(x), Storage::F32(y)) => Storage::F32(pick(cond, x, y)),
        (Storage::F64(x), Storage::F64(y)) => Storage::F64(pick(cond, x, y)),
        _ => panic!("where: dtypes differ ({} and {})", sa.dtype(), sb.dtype()),
    };
    Tensor::from_storage(s, a.shape().to_vec())
}

fn pick<T: Copy>(cond: &[bool], a: &[T], b: &[T]) -> Vec<T> {
    cond.iter()
        .zip(a.iter().zip(b))
        .map(|(&c, (&x, &y))| if c { x } else { y })
        .collect()
}

impl Tensor {
    /// True for each nonzero element.
    pub(crate) fn ne_zero(&self) -> Vec<bool> {
        dispatch!(&*self.read_storage(), |x: T| x
            .iter()
            .map(|&v| v != T::ZERO)
            .collect())
    }

    /// The slices at positions `indices` along `dim`, in that order (repeats allowed).
    ///
    /// **Panics** if an index is out of range.
    ///
    /// ```
    /// use downhill::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2]);
    /// assert_eq!(t.index_select(0, &[2, 0]).to_vec_f32(), vec![5.0, 6.0, 1.0, 2.0]);
    /// ```
    #[track_caller]
    pub fn index_select(&self, dim: isize, indices: &[usize]) -> Tensor {
        let d = normalize_axis("index_select", dim, self.ndim());
        let (outer, n, inner) = outer_dim_inner(self.shape(), d);
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            panic!("index_select: index {bad} is out of range for dimension {d} of size {n} (shape {:?})", self.shape());
        }
        let mut shape = self.shape().to_vec();
        shape[d] = indices.len();
        let s = dispatch!(&*self.read_storage(), |x: T| {
            let mut out = Vec::with_capacity(outer * indices.len() * inner);
            for o in 0..outer {
                for &i in indices {
                    out.extend_from_slice(&x[(o * n + i) * inner..(o * n + i + 1) * inner]);
                }
            }
            T::wrap(out)
        });
        Tensor::from_op(
            s,
            shape,
            &[self],
            IndexSelect {
                dim: d,
                idx: indices.to_vec(),
            },
        )
    }

    /// `out[…, j, …] = self[…, index[…, j, …], …]` along `dim` (PyTorch's
    /// `gather`). `index` is row-major with this tensor's shape except along
    /// `dim`, whose length is `index.len()` divided by the other dimensions.
    ///
    /// **Panics** if `index.len()` does not fit or an index is out of range.
    ///
    /// ```
    /// use downhill::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// assert_eq!(t.gather(1, &[1, 0]).to_vec_f32(), vec![2.0, 3.0]);
    /// ```
    #[track_caller]
    pub fn gather(&self, dim: isize, index: &[usize]) -> Tensor {
        let d = normalize_axis("gather", dim, self.ndim());
        let (outer, n, inner) = outer_dim_inner(self.shape(), d);
        let rest = (outer * inner).max(1);
        assert!(
            index.len().is_multiple_of(rest),
            "gather: {} indices do not fit shape {:?} along dimension {d}",
            index.len(),
            self.shape()
        );
        let k = index.len() / rest;
        if let Some(&bad) = index.iter().find(|&&i| i >= n) {
            panic!(
                "gather: index {bad} is out of range for dimension {d} of size {n} (shape {:?})",
                self.shape()
            );
        }
        let mut shape = self.shape().to_vec();
        shape[d] = k;
        let s = dispatch!(&*self.read_storage(), |x: T| {
            let mut out = Vec::with_capacity(index.len());
            for o in 0..outer {
                for j in 0..k {
                    for i in 0..inner {
                        out.push(x[(o * n + index[(o * k + j) * inner + i]) * inner + i]);
                    }
                }
            }
            T::wrap(out)
        });
        Tensor::from_op(
            s,
            shape,
            &[self],
            Gather {
                dim: d,
                idx: index.to_vec(),
            },
        )
    }

    /// `cond ? a : b` elementwise, where `cond` is nonzero; all three broadcast.
    /// Differentiable in `a` and `b`.
    ///
    /// ```
    /// use downhill::Tensor;
    /// let c = Tensor::from_vec(vec![1.0f32, 0.0], &[2]);
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2]);
    /// let b = Tensor::from_vec(vec![9.0f32, 8.0], &[2]);
    /// assert_eq!(Tensor::where_(&c, &a, &b).to_vec_f32(), vec![1.0, 8.0]);
    /// ```
    #[track_caller]
    pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
        let ab = broadcast_shapes("where", a.shape(), b.shape());
        let shape = broadcast_shapes("where", cond.shape(), &ab);
        let c = crate::no_grad(|| cond.broadcast_to(&shape)).ne_zero();
        let (ea, eb) = crate::no_grad(|| (a.broadcast_to(&shape), b.broadcast_to(&shape)));
        let s = std::mem::replace(
            &mut *select(&c, &ea, &eb).write_storage(),
            Storage::F32(Vec::new()),
        );
        Tensor::from_op(s, shape, &[cond, a, b], Where)
    }

    /// `value` where `mask` is nonzero, else `self` (mask broadcasts to self's shape).
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Tensor {
        let fill = Tensor::full(&[], value, self.dtype());
        let out = Tensor::where_(mask, &fill, self);
        assert_eq!(
            out.shape(),
            self.shape(),
            "masked_fill: mask of shape {:?} does not broadcast to {:?}",
            mask.shape(),
            self.shape()
        );
        out
    }
}
