//! Shape ops: reshape, squeeze/unsqueeze, transpose/permute, broadcast_to,
//! narrow, concat, stack, dtype conversion, each with its backward.

use crate::autograd::{Backward, GradSink};
use crate::tensor::shape::{
    broadcast_shapes, broadcast_strides, normalize_axis, numel, outer_dim_inner, strides,
};
use crate::tensor::storage::{dispatch, HasStorage};
use crate::tensor::{Element, Tensor};

/// Copies `x` (shape `shape`) read through `src_strides` into a new
/// row-major buffer of shape `out_shape`: the one strided-copy kernel behind
/// permute and broadcast.
fn strided_copy<T: Element>(x: &[T], out_shape: &[usize], src_strides: &[usize]) -> Vec<T> {
    let n = numel(out_shape);
    let mut out = crate::tensor::pool::with_capacity(n);
    if n == 0 {
        return out;
    }
    let nd = out_shape.len();
    if nd == 0 {
        out.push(x[0]);
        return out;
    }
    let last = out_shape[nd - 1];
    let ls = src_strides[nd - 1];
    let mut idx = vec![0usize; nd];
    let mut off = 0usize;
    for _ in 0..n / last {
        match ls {
            1 => out.extend_from_slice(&x[off..off + last]),
            0 => out.extend(std::iter::repeat_n(x[off], last)),
            _ => out.extend((0..last).map(|j| x[off + j * ls])),
        }
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            off += src_strides[d];
            if idx[d] < out_shape[d] {
                break;
            }
            off -= src_strides[d] * out_shape[d];
            idx[d] = 0;
        }
    }
    out
}

struct Reshape;
impl Backward for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }
    // The gradient takes the input's shape back.
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        sink.add(0, grad.reshape(inputs[0].shape()));
    }
}

struct Permute(Vec<usize>);
impl Backward for Permute {
    fn name(&self) -> &'static str {
        "permute"
    }
    // The gradient is permuted by the inverse permutation.
    fn backward(&self, _inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let mut inv = vec![0; self.0.len()];
        for (i, &p) in self.0.iter().enumerate() {
            inv[p] = i;
        }
        sink.add(0, grad.permute(&inv));
    }
}

struct BroadcastTo;
impl Backward for BroadcastTo {
    fn name(&self) -> &'static str {
        "broadcast_to"
    }
    // Adjoint of broadcasting: sum over the stretched dimensions.
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        sink.add(0, super::binary::sum_to_shape(grad, inputs[0].shape()));
    }
}

struct Narrow {
    dim: usize,
    start: usize,
}
impl Backward for Narrow {
    fn name(&self) -> &'static str {
        "narrow"
    }
    // The gradient lands in the narrowed window; zeros elsewhere.
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let x = &inputs[0];
        let (outer, dim, inner) = outer_dim_inner(x.shape(), self.dim);
        let len = grad.shape()[self.dim];
        let s = dispatch!(&*grad.read_storage(), |g: T| {
            let mut out = vec![T::ZERO; x.numel()];
            for o in 0..outer {
                let dst = (o * dim + self.start) * inner;
                out[dst..dst + len * inner]
                    .copy_from_slice(&g[o * len * inner..(o + 1) * len * inner]);
            }
            T::wrap(out)
        });
        sink.add(0, Tensor::from_storage(s, x.shape().to_vec()));
    }
}

struct Concat(usize);
impl Backward for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }
    // Each input receives its own slice of the gradient.
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let mut start = 0;
        for (i, x) in inputs.iter().enumerate() {
            let len = x.shape()[self.0];
            if sink.wants(i) {
                sink.add(i, grad.narrow(self.0 as isize, start, len));
            }
            start += len;
        }
    }
}

pub(crate) struct ToDType;
impl Backward for ToDType {
    fn name(&self) -> &'static str {
        "to_dtype"
    }
    // The gradient converts back to the input's dtype.
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        sink.add(0, grad.to_dtype(inputs[0].dtype()));
    }
}

impl Tensor {
    /// The same elements with another shape (one dimension may be `usize::MAX`
    /// to mean "infer"; see [`Tensor::reshape_infer`]).
    ///
    /// **Panics** if the element counts differ.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        assert_eq!(
            numel(shape),
            self.numel(),
            "reshape: cannot view shape {:?} ({} elements) as {shape:?} ({} elements)",
            self.shape(),
            self.numel(),
            numel(shape)
        );
        if crate::tensor::shape::same(shape, self.shape()) {
            return self.clone();
        }
        let s = self.read_storage().clone();
        Tensor::from_op(s, shape.to_vec(), &[self], Reshape)
    }

    /// Reshape where one dimension may be `-1` (inferred), like PyTorch's `view(-1, n)`.
    ///
    /// **Panics** if the shape does not fit.
    #[track_caller]
    pub fn reshape_infer(&self, shape: &[isize]) -> Tensor {
        let known: usize = shape
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let unknown = shape.iter().filter(|&&d| d < 0).count();
        assert!(
            unknown <= 1 && (unknown == 0 || (known > 0 && self.numel().is_multiple_of(known))),
            "reshape: cannot view shape {:?} as {shape:?}",
            self.shape()
        );
        let s: Vec<usize> = shape
            .iter()
            .map(|&d| {
                if d < 0 {
                    self.numel() / known.max(1)
                } else {
                    d as usize
                }
            })
            .collect();
        self.reshape(&s)
    }

    /// Flattens dimensions `start..=end` into one.
    #[track_caller]
    pub fn flatten(&self, start: isize, end: isize) -> Tensor {
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let s = normalize_axis("flatten", start, self.ndim());
        let e = normalize_axis("flatten", end, self.ndim());
        let mut shape = self.shape()[..s].to_vec();
        shape.push(self.shape()[s..=e].iter().product());
        shape.extend_from_slice(&self.shape()[e + 1..]);
        self.reshape(&shape)
    }

    /// Inserts a dimension of size 1 at `dim`.
    #[track_caller]
    pub fn unsqueeze(&self, dim: isize) -> Tensor {
        let d = normalize_axis("unsqueeze", dim, self.ndim() + 1);
        let mut shape = self.shape().to_vec();
        shape.insert(d, 1);
        self.reshape(&shape)
    }

    /// Removes dimension `dim`, which must have size 1.
    ///
    /// **Panics** if that dimension's size is not 1.
    #[track_caller]
    pub fn squeeze(&self, dim: isize) -> Tensor {
        let d = normalize_axis("squeeze", dim, self.ndim());
        assert_eq!(
            self.shape()[d],
            1,
            "squeeze: dimension {d} of shape {:?} is not 1",
            self.shape()
        );
        let mut shape = self.shape().to_vec();
        shape.remove(d);
        self.reshape(&shape)
    }

    /// Reorders the dimensions: output dimension `i` is input dimension `dims[i]`.
    ///
    /// **Panics** if `dims` is not a permutation of `0..ndim`.
    #[track_caller]
    pub fn permute(&self, dims: &[usize]) -> Tensor {
        let nd = self.ndim();
        let mut seen = vec![false; nd];
        assert!(
            dims.len() == nd
                && dims
                    .iter()
                    .all(|&d| d < nd && !std::mem::replace(&mut seen[d], true)),
            "permute: {dims:?} is not a permutation of the {nd} dimensions of shape {:?}",
            self.shape()
        );
        if dims.iter().enumerate().all(|(i, &d)| i == d) {
            return self.clone();
        }
        let own = strides(self.shape());
        let out_shape: Vec<usize> = dims.iter().map(|&d| self.shape()[d]).collect();
        let src: Vec<usize> = dims.iter().map(|&d| own[d]).collect();
        let s = dispatch!(&*self.read_storage(), |x: T| T::wrap(strided_copy(
            x, &out_shape, &src
        )));
        Tensor::from_op(s, out_shape, &[self], Permute(dims.to_vec()))
    }

    /// Swaps two dimensions.
    #[track_caller]
    pub fn transpose(&self, d0: isize, d1: isize) -> Tensor {
        let a = normalize_axis("transpose", d0, self.ndim());
        let b = normalize_axis("transpose", d1, self.ndim());
        let mut p: Vec<usize> = (0..self.ndim()).collect();
        p.swap(a, b);
        self.permute(&p)
    }

    /// The transpose of a matrix (swaps the last two dimensions).
    ///
    /// **Panics** if the tensor has fewer than 2 dimensions.
    #[track_caller]
    pub fn t(&self) -> Tensor {
        assert!(
            self.ndim() >= 2,
            "t: tensor of shape {:?} is not a matrix",
            self.shape()
        );
        self.transpose(-2, -1)
    }

    /// Repeats the tensor along stretched dimensions to `shape` (NumPy broadcasting).
    ///
    /// **Panics** if the tensor does not broadcast to `shape`.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor {
        let b = broadcast_shapes("broadcast_to", self.shape(), shape);
        assert_eq!(
            b,
            shape,
            "broadcast_to: shape {:?} does not broadcast to {shape:?}",
            self.shape()
        );
        if crate::tensor::shape::same(self.shape(), shape) {
            return self.clone();
        }
        let src = broadcast_strides(self.shape(), shape);
        let s = dispatch!(&*self.read_storage(), |x: T| T::wrap(strided_copy(
            x, shape, &src
        )));
        Tensor::from_op(s, shape.to_vec(), &[self], BroadcastTo)
    }

    /// The slice `start..start+len` along `dim`.
    ///
    /// **Panics** if the window leaves the dimension.
    #[track_caller]
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Tensor {
        let d = normalize_axis("narrow", dim, self.ndim());
        let size = self.shape()[d];
        assert!(
            start + len <= size,
            "narrow: window {start}..{} is outside dimension {d} of size {size} (shape {:?})",
            start + len,
            self.shape()
        );
        let (outer, dim_n, inner) = outer_dim_inner(self.shape(), d);
        let mut shape = self.shape().to_vec();
        shape[d] = len;
        let s = dispatch!(&*self.read_storage(), |x: T| {
            let mut out = Vec::with_capacity(outer * len * inner);
            for o in 0..outer {
                let src = (o * dim_n + start) * inner;
                out.extend_from_slice(&x[src..src + len * inner]);
            }
            T::wrap(out)
        });
        Tensor::from_op(s, shape, &[self], Narrow { dim: d, start })
    }

    /// Concatenates tensors along `dim`; all other dimensions must agree.
    ///
    /// **Panics** if `tensors` is empty or the shapes or dtypes disagree.
    #[track_caller]
    pub fn concat(tensors: &[&Tensor], dim: isize) -> Tensor {
        assert!(!tensors.is_empty(), "concat: no tensors given");
        let first = tensors[0];
        let d = normalize_axis("concat", dim, first.ndim());
        for t in tensors {
            let ok = t.ndim() == first.ndim()
                && t.dtype() == first.dtype()
                && t.shape()
                    .iter()
                    .zip(first.shape())
                    .enumerate()
                    .all(|(i, (a, b))| i == d || a == b);
            assert!(
                ok,
                "concat: shapes {:?} ({}) and {:?} ({}) differ outside dimension {d}",
                first.shape(),
                first.dtype(),
                t.shape(),
                t.dtype()
            );
        }
        let mut shape = first.shape().to_vec();
        shape[d] = tensors.iter().map(|t| t.shape()[d]).sum();
        let (outer, _, inner) = outer_dim_inner(&shape, d);
        let guards: Vec<_> = tensors.iter().map(|t| t.read_storage()).collect();
        let s = dispatch!(&*guards[0], |_x: T| {
            let mut out: Vec<T> = Vec::with_capacity(numel(&shape));
            for o in 0..outer {
                for (t, g) in tensors.iter().zip(&guards) {
                    let block = t.shape()[d] * inner;
                    let v = crate::tensor::typed::<T>(g, "concat");
                    out.extend_from_slice(&v[o * block..(o + 1) * block]);
                }
            }
            T::wrap(out)
        });
        drop(guards);
        Tensor::from_op(s, shape, tensors, Concat(d))
    }

    /// Stacks equally shaped tensors along a new dimension `dim`.
    ///
    /// **Panics** if `tensors` is empty or their shapes differ.
    #[track_caller]
    pub fn stack(tensors: &[&Tensor], dim: isize) -> Tensor {
        assert!(!tensors.is_empty(), "stack: no tensors given");
        let d = normalize_axis("stack", dim, tensors[0].ndim() + 1);
        for t in tensors {
            assert_eq!(
                t.shape(),
                tensors[0].shape(),
                "stack: shapes {:?} and {:?} differ",
                tensors[0].shape(),
                t.shape()
            );
        }
        let u: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d as isize)).collect();
        let refs: Vec<&Tensor> = u.iter().collect();
        Tensor::concat(&refs, d as isize)
    }
}
