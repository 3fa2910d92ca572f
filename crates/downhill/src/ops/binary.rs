//! add, sub, mul, div, pow, maximum, minimum with NumPy broadcasting, and
//! comparisons. Gradients are summed back to each input's shape.

use std::ops;

use crate::autograd::{Backward, GradSink};
use crate::tensor::shape::{broadcast_shapes, broadcast_strides};
use crate::tensor::storage::{HasStorage, Storage};
use crate::tensor::{Element, Tensor};

use super::{map, zip_apply, zip_map};

/// Applies `f` elementwise over the broadcast of `a` (shape `sa`) and `b` (shape `sb`).
pub(crate) fn broadcast_zip<T: Element>(
    a: &[T],
    sa: &[usize],
    b: &[T],
    sb: &[usize],
    out_shape: &[usize],
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Vec<T> {
    if crate::tensor::shape::same(sa, sb) {
        return zip_map(a, b, f);
    }
    if b.len() == 1 && a.len() == crate::tensor::shape::numel(out_shape) {
        let y = b[0];
        return map(a, |x| f(x, y));
    }
    if a.len() == 1 && b.len() == crate::tensor::shape::numel(out_shape) {
        let x = a[0];
        return map(b, |y| f(x, y));
    }
    let n = crate::tensor::shape::numel(out_shape);
    let mut out = crate::tensor::pool::with_capacity(n);
    let nd = out_shape.len();
    let last = out_shape[nd - 1];
    let ta = broadcast_strides(sa, out_shape);
    let tb = broadcast_strides(sb, out_shape);
    let (la, lb) = (ta[nd - 1], tb[nd - 1]);
    let mut idx = vec![0usize; nd - 1];
    let (mut oa, mut ob) = (0usize, 0usize);
    for _ in 0..n / last.max(1) {
        match (la, lb) {
            (1, 1) => out.extend(
                a[oa..oa + last]
                    .iter()
                    .zip(&b[ob..ob + last])
                    .map(|(&x, &y)| f(x, y)),
            ),
            (1, 0) => {
                let y = b[ob];
                out.extend(a[oa..oa + last].iter().map(|&x| f(x, y)))
            }
            (0, 1) => {
                let x = a[oa];
                out.extend(b[ob..ob + last].iter().map(|&y| f(x, y)))
            }
            _ => out.extend((0..last).map(|j| f(a[oa + j * la], b[ob + j * lb]))),
        }
        // advance the odometer over the outer dimensions
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            oa += ta[d];
            ob += tb[d];
            if idx[d] < out_shape[d] {
                break;
            }
            oa -= ta[d] * out_shape[d];
            ob -= tb[d] * out_shape[d];
            idx[d] = 0;
        }
    }
    out
}

/// Sums `grad` (of a broadcast result's shape) down to `shape`: the adjoint of broadcasting.
pub(crate) fn sum_to_shape(grad: &Tensor, shape: &[usize]) -> Tensor {
    if crate::tensor::shape::same(grad.shape(), shape) {
        return grad.clone();
    }
    let gs = grad.shape().to_vec();
    let s = grad.read_storage();
    let storage =
        crate::tensor::storage::dispatch!(&*s, |g: T| T::wrap(sum_to_shape_kernel(g, &gs, shape)));
    Tensor::from_storage(storage, shape.to_vec())
}

fn sum_to_shape_kernel<T: Element>(g: &[T], gs: &[usize], shape: &[usize]) -> Vec<T> {
    let n_out = crate::tensor::shape::numel(shape);
    let mut out = vec![T::ZERO; n_out];
    if n_out == 1 {
        out[0] = super::reduce::sum_slice(g);
        return out;
    }
    let nd = gs.len();
    let last = gs[nd - 1];
    let st = broadcast_strides(shape, gs);
    let ls = st[nd - 1];
    let mut idx = vec![0usize; nd - 1];
    let mut o = 0usize;
    for row in g.chunks(last.max(1)) {
        if ls == 1 {
            out[o..o + last]
                .iter_mut()
                .zip(row)
                .for_each(|(a, &b)| *a += b);
        } else {
            out[o] += row.iter().copied().sum::<T>();
        }
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            o += st[d];
            if idx[d] < gs[d] {
                break;
            }
            o -= st[d] * gs[d];
            idx[d] = 0;
        }
    }
    out
}

/// Which elementwise binary op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
}

impl BinOp {
    fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
            BinOp::Pow => "pow",
            BinOp::Maximum => "maximum",
            BinOp::Minimum => "minimum",
        }
    }

    #[inline(always)]
    fn apply<T: Element>(self, x: T, y: T) -> T {
        match self {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            BinOp::Pow => x.powf(y),
            BinOp::Maximum => x.max_nan(y),
            BinOp::Minimum => x.min_nan(y),
        }
    }
}

#[track_caller]
fn binary(a: &Tensor, b: &Tensor, op: BinOp) -> Tensor {
    let out_shape = broadcast_shapes(op.name(), a.shape(), b.shape());
    let storage = {
        let sa = a.read_storage();
        let sb = b.read_storage();
        match (&*sa, &*sb) {
            (Storage::F32(x), Storage::F32(y)) => Storage::F32(kernel(x, a.shape(), y, b.shape(), &out_shape, op)),
            (Storage::F64(x), Storage::F64(y)) => Storage::F64(kernel(x, a.shape(), y, b.shape(), &out_shape, op)),
            _ => panic!(
                "{}: dtypes differ ({} with shape {:?} and {} with shape {:?}); convert one with .to_dtype()",
                op.name(),
                sa.dtype(),
                a.shape(),
                sb.dtype(),
                b.shape()
            ),
        }
    };
    Tensor::from_op(storage, out_shape, &[a, b], Binary(op))
}

fn kernel<T: Element>(
    x: &[T],
    sx: &[usize],
    y: &[T],
    sy: &[usize],
    out: &[usize],
    op: BinOp,
) -> Vec<T> {
    match op {
        BinOp::Add => broadcast_zip(x, sx, y, sy, out, |a, b| a + b),
        BinOp::Sub => broadcast_zip(x, sx, y, sy, out, |a, b| a - b),
        BinOp::Mul => broadcast_zip(x, sx, y, sy, out, |a, b| a * b),
        BinOp::Div => broadcast_zip(x, sx, y, sy, out, |a, b| a / b),
        _ => broadcast_zip(x, sx, y, sy, out, |a, b| op.apply(a, b)),
    }
}

struct Binary(BinOp);

/// Elementwise over (grad, a, b, out) broadcast to the output shape: the local
/// derivative for one input, multiplied by the incoming gradient.
fn grad_term(
    grad: &Tensor,
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
    f: impl Fn(f64, f64, f64, f64) -> f64 + Sync + Send + Copy,
    f32f: impl Fn(f32, f32, f32, f32) -> f32 + Sync + Send + Copy,
) -> Tensor {
    let shape = grad.shape().to_vec();
    let ab = |t: &Tensor| -> Tensor {
        if crate::tensor::shape::same(t.shape(), &shape) {
            t.clone()
        } else {
            t.broadcast_to(&shape)
        }
    };
    let (a, b) = (ab(a), ab(b));
    let (g, a_s, b_s, o) = (
        grad.read_storage(),
        a.read_storage(),
        b.read_storage(),
        out.read_storage(),
    );
    let s = match (&*g, &*a_s, &*b_s, &*o) {
        (Storage::F32(g), Storage::F32(x), Storage::F32(y), Storage::F32(z)) => {
            Storage::F32(quad_map(g, x, y, z, f32f))
        }
        (Storage::F64(g), Storage::F64(x), Storage::F64(y), Storage::F64(z)) => {
            Storage::F64(quad_map(g, x, y, z, f))
        }
        _ => unreachable!("binary backward: operands share a dtype"),
    };
    Tensor::from_storage(s, shape)
}

fn quad_map<T: Element>(
    g: &[T],
    a: &[T],
    b: &[T],
    o: &[T],
    f: impl Fn(T, T, T, T) -> T + Sync + Send,
) -> Vec<T> {
    use rayon::prelude::*;
    if g.len() >= super::PAR_THRESHOLD {
        let mut out = crate::tensor::pool::with_capacity(g.len());
        (0..g.len())
            .into_par_iter()
            .with_min_len(4096)
            .map(|i| f(g[i], a[i], b[i], o[i]))
            .collect_into_vec(&mut out);
        out
    } else {
        (0..g.len()).map(|i| f(g[i], a[i], b[i], o[i])).collect()
    }
}

macro_rules! term {
    ($grad:expr, $a:expr, $b:expr, $out:expr, |$g:ident, $x:ident, $y:ident, $z:ident| $e:expr) => {
        grad_term(
            $grad,
            $a,
            $b,
            $out,
            |$g: f64, $x: f64, $y: f64, $z: f64| $e,
            |$g: f32, $x: f32, $y: f32, $z: f32| $e,
        )
    };
}

impl Backward for Binary {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn backward(&self, inputs: &[Tensor], out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let (a, b) = (&inputs[0], &inputs[1]);
        let (da, db) = match self.0 {
            // d(a+b)/da = 1, d(a+b)/db = 1
            BinOp::Add => (
                sink.wants(0).then(|| grad.clone()),
                sink.wants(1).then(|| grad.clone()),
            ),
            // d(a−b)/da = 1, d(a−b)/db = −1
            BinOp::Sub => (
                sink.wants(0).then(|| grad.clone()),
                sink.wants(1).then(|| -grad),
            ),
            // d(a·b)/da = b, d(a·b)/db = a
            BinOp::Mul => (
                sink.wants(0).then(|| grad * b),
                sink.wants(1).then(|| grad * a),
            ),
            // d(a/b)/da = 1/b, d(a/b)/db = −a/b²
            BinOp::Div => (
                sink.wants(0).then(|| grad / b),
                sink.wants(1)
                    .then(|| term!(grad, a, b, out, |g, x, y, _z| -g * x / (y * y))),
            ),
            // d(aᵇ)/da = b·aᵇ⁻¹, d(aᵇ)/db = aᵇ·ln a (0 where a = 0 and b ≥ 0, like PyTorch)
            BinOp::Pow => (
                sink.wants(0).then(|| {
                    term!(grad, a, b, out, |g, x, y, _z| if y == 0.0 {
                        0.0
                    } else {
                        g * y * x.powf(y - 1.0)
                    })
                }),
                sink.wants(1).then(|| {
                    term!(grad, a, b, out, |g, x, y, z| if x == 0.0 && y >= 0.0 {
                        0.0
                    } else {
                        g * z * x.ln()
                    })
                }),
            ),
            // Ties split the gradient in half, as PyTorch does.
            BinOp::Maximum | BinOp::Minimum => {
                let wins = |x: f64, y: f64| {
                    if x == y {
                        0.5
                    } else if (self.0 == BinOp::Maximum) == (x > y) {
                        1.0
                    } else {
                        0.0
                    }
                };
                let wins32 = |x: f32, y: f32| wins(x as f64, y as f64) as f32;
                (
                    sink.wants(0).then(|| {
                        grad_term(
                            grad,
                            a,
                            b,
                            out,
                            move |g, x, y, _| g * wins(x, y),
                            move |g, x, y, _| g * wins32(x, y),
                        )
                    }),
                    sink.wants(1).then(|| {
                        grad_term(
                            grad,
                            a,
                            b,
                            out,
                            move |g, x, y, _| g * wins(y, x),
                            move |g, x, y, _| g * wins32(y, x),
                        )
                    }),
                )
            }
        };
        if let Some(d) = da {
            sink.add(0, sum_to_shape(&d, a.shape()));
        }
        if let Some(d) = db {
            sink.add(1, sum_to_shape(&d, b.shape()));
        }
    }
}

/// `acc += g` in place (same shape and dtype); used to accumulate gradients.
pub(crate) fn add_assign(acc: &Tensor, g: &Tensor) {
    let gs = g.read_storage();
    let mut s = acc.write_storage();
    match (&mut *s, &*gs) {
        (Storage::F32(a), Storage::F32(b)) => zip_apply(a, b, |x, y| x + y),
        (Storage::F64(a), Storage::F64(b)) => zip_apply(a, b, |x, y| x + y),
        _ => unreachable!("gradients share their tensor's dtype"),
    }
}

impl Tensor {
    /// Elementwise `self + other` with broadcasting.
    ///
    /// **Panics** if the shapes do not broadcast or the dtypes differ.
    #[track_caller]
    pub fn add(&self, other: &Tensor) -> Tensor {
        binary(self, other, BinOp::Add)
    }

    /// Elementwise `self − other` with broadcasting.
    #[track_caller]
    pub fn sub(&self, other: &Tensor) -> Tensor {
        binary(self, other, BinOp::Sub)
    }

    /// Elementwise `self · other` with broadcasting.
    #[track_caller]
    pub fn mul(&self, other: &Tensor) -> Tensor {
        binary(self, other, BinOp::Mul)
    }

    /// Elementwise `self / other` with broadcasting.
    #[track_caller]
    pub fn div(&self, other: &Tensor) -> Tensor {
        binary(self, other, BinOp::Div)
    }

    /// Elementwise `self ^ other` (tensor exponent) with broadcasting.
    ///
    /// ```
    /// use downhill::Tensor;
    /// let a = Tensor::from_vec(vec![2.0f64, 3.0], &[2]);
    /// let b = Tensor::from_vec(vec![3.0f64, 2.0], &[2]);
    /// assert_eq!(a.pow(&b).to_vec_f64(), vec![8.0, 9.0]);
    /// ```
    #[track_caller]
    pub fn pow(&self, other: &Tensor) -> Tensor {
        binary(self, other, BinOp::Pow)
    }

    /// Elementwise maximum (ties share the gradient equally).
    #[track_caller]
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        binary(self, other, BinOp::Maximum)
    }

    /// Elementwise minimum (ties share the gradient equally).
    #[track_caller]
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        binary(self, other, BinOp::Minimum)
    }

    /// `1.0` where `self > other`, else `0.0` (broadcasting; not differentiable).
    #[track_caller]
    pub fn gt(&self, other: &Tensor) -> Tensor {
        compare(self, other, "gt", |a, b| a > b)
    }

    /// `1.0` where `self < other`, else `0.0`.
    #[track_caller]
    pub fn lt(&self, other: &Tensor) -> Tensor {
        compare(self, other, "lt", |a, b| a < b)
    }

    /// `1.0` where `self ≥ other`, else `0.0`.
    #[track_caller]
    pub fn ge(&self, other: &Tensor) -> Tensor {
        compare(self, other, "ge", |a, b| a >= b)
    }

    /// `1.0` where `self ≤ other`, else `0.0`.
    #[track_caller]
    pub fn le(&self, other: &Tensor) -> Tensor {
        compare(self, other, "le", |a, b| a <= b)
    }

    /// `1.0` where `self == other`, else `0.0`.
    #[track_caller]
    pub fn eq_elem(&self, other: &Tensor) -> Tensor {
        compare(self, other, "eq", |a, b| a == b)
    }
}

#[track_caller]
fn compare(
    a: &Tensor,
    b: &Tensor,
    op: &str,
    f: impl Fn(f64, f64) -> bool + Sync + Send + Copy,
) -> Tensor {
    let out_shape = broadcast_shapes(op, a.shape(), b.shape());
    let sa = a.read_storage();
    let sb = b.read_storage();
    let s = match (&*sa, &*sb) {
        (Storage::F32(x), Storage::F32(y)) => Storage::F32(broadcast_zip(
            x,
            a.shape(),
            y,
            b.shape(),
            &out_shape,
            |p, q| if f(p as f64, q as f64) { 1.0 } else { 0.0 },
        )),
        (Storage::F64(x), Storage::F64(y)) => Storage::F64(broadcast_zip(
            x,
            a.shape(),
            y,
            b.shape(),
            &out_shape,
            |p, q| if f(p, q) { 1.0 } else { 0.0 },
        )),
        _ => panic!("{op}: dtypes differ ({} and {})", sa.dtype(), sb.dtype()),
    };
    Tensor::from_storage(s, out_shape)
}

// Operator overloads: `&a + &b`, `a + b`, `&a * 2.0`, `2.0 * &a`, `-&a`.
macro_rules! impl_op {
    ($trait:ident, $method:ident, $fn:ident, $scalar:ident) => {
        impl ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$fn(self, rhs)
            }
        }
        impl ops::$trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$fn(&self, &rhs)
            }
        }
        impl ops::$trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                Tensor::$fn(&self, rhs)
            }
        }
        impl ops::$trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                Tensor::$fn(self, &rhs)
            }
        }
        impl ops::$trait<f64> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                self.$scalar(rhs)
            }
        }
        impl ops::$trait<f64> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: f64) -> Tensor {
                self.$scalar(rhs)
            }
        }
    };
}

impl_op!(Add, add, add, add_scalar);
impl_op!(Sub, sub, sub, sub_scalar);
impl_op!(Mul, mul, mul, mul_scalar);
impl_op!(Div, div, div, div_scalar);

impl ops::Mul<&Tensor> for f64 {
    type Output = Tensor;
    fn mul(self, rhs: &Tensor) -> Tensor {
        rhs.mul_scalar(self)
    }
}

impl ops::Mul<Tensor> for f64 {
    type Output = Tensor;
    fn mul(self, rhs: Tensor) -> Tensor {
        rhs.mul_scalar(self)
    }
}

impl ops::Add<&Tensor> for f64 {
    type Output = Tensor;
    fn add(self, rhs: &Tensor) -> Tensor {
        rhs.add_scalar(self)
    }
}

impl ops::Sub<&Tensor> for f64 {
    type Output = Tensor;
    fn sub(self, rhs: &Tensor) -> Tensor {
        rhs.rsub_scalar(self)
    }
}

impl ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.neg()
    }
}

impl ops::Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(&self)
    }
}
