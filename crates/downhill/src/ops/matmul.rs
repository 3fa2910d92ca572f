//! Matrix products through the `gemm` crate: 2-D and batched (batch
//! dimensions broadcast), and the fused `linear` (x·Wᵀ + b) of dense layers.
//! Transposed operands are read through strides, never copied.

use crate::autograd::{Backward, GradSink};
use crate::tensor::shape::{broadcast_shapes, broadcast_strides, numel};
use crate::tensor::storage::{HasStorage, Storage};
use crate::tensor::{Element, Tensor};

/// Products with fewer multiply-adds than this run on one thread.
const PAR_FLOPS: usize = 1 << 21;

/// `c (+)= op(a)·op(b)` for one m×n result; `a` holds m×k (k×m if `ta`),
/// `b` holds k×n (n×k if `tb`), all row-major. On the calling thread alone
/// unless `parallel` (and the product is large enough to split): products that
/// are themselves one of many parallel tasks pass `false`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<T: Element>(
    parallel: bool,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    ta: bool,
    b: &[T],
    tb: bool,
    c: &mut [T],
    accumulate: bool,
) {
    debug_assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].iter_mut().for_each(|v| *v = T::ZERO);
        }
        return;
    }
    let (a_rs, a_cs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    let par = if parallel && m * n * k >= PAR_FLOPS && rayon::current_num_threads() > 1 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the slices hold at least m·k, k·n and m·n elements (checked
    // above in debug, guaranteed by every caller's shape arithmetic), and the
    // strides above address exactly those row-major layouts; `c` does not
    // alias `a` or `b` (it is a distinct &mut).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            par,
        );
    }
}

/// Batched product of logical matrices: `a` is [..., m, k] (stored [..., k, m]
/// if `ta`), `b` is [..., k, n] (stored [..., n, k] if `tb`); batch dims broadcast.
/// Returns the result data and shape [batch..., m, n].
#[track_caller]
fn batched<T: Element + HasStorage>(
    a: &[T],
    sa: &[usize],
    ta: bool,
    b: &[T],
    sb: &[usize],
    tb: bool,
) -> (Vec<T>, Vec<usize>) {
    let (ra, ca) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (rb, cb) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    let (m, k) = if ta { (ca, ra) } else { (ra, ca) };
    let (k2, n) = if tb { (cb, rb) } else { (rb, cb) };
    assert_eq!(
        k, k2,
        "matmul: shapes {sa:?} and {sb:?} do not chain ({k} ≠ {k2})"
    );
    let ba = &sa[..sa.len() - 2];
    let bb = &sb[..sb.len() - 2];
    let batch = broadcast_shapes("matmul", ba, bb);
    let nb = numel(&batch);
    let mut out = crate::tensor::pool::zeroed::<T>(nb * m * n);
    if batch.is_empty() {
        gemm(true, m, n, k, a, ta, b, tb, &mut out, false);
    } else {
        // Offsets (in matrices) of each batch entry into a and b.
        let stra = broadcast_strides(ba, &batch);
        let strb = broadcast_strides(bb, &batch);
        let bstr = crate::tensor::shape::strides(&batch);
        for i in 0..nb {
            let (mut oa, mut ob) = (0, 0);
            for d in 0..batch.len() {
                let id = (i / bstr[d]) % batch[d];
                oa += id * stra[d];
                ob += id * strb[d];
            }
            gemm(
                true,
                m,
                n,
                k,
                &a[oa * m * k..(oa + 1) * m * k],
                ta,
                &b[ob * k * n..(ob + 1) * k * n],
                tb,
                &mut out[i * m * n..(i + 1) * m * n],
                false,
            );
        }
    }
    let mut shape = batch;
    shape.push(m);
    shape.push(n);
    (out, shape)
}

fn batched_tensor(a: &Tensor, ta: bool, b: &Tensor, tb: bool) -> Tensor {
    let (sa, sb) = (a.read_storage(), b.read_storage());
    let (s, shape) = match (&*sa, &*sb) {
        (Storage::F32(x), Storage::F32(y)) => {
            let (v, s) = batched(x, a.shape(), ta, y, b.shape(), tb);
            (f32::wrap(v), s)
        }
        (Storage::F64(x), Storage::F64(y)) => {
            let (v, s) = batched(x, a.shape(), ta, y, b.shape(), tb);
            (f64::wrap(v), s)
        }
        _ => panic!(
            "matmul: dtypes differ ({} with shape {:?} and {} with shape {:?})",
            sa.dtype(),
            a.shape(),
            sb.dtype(),
            b.shape()
        ),
    };
    Tensor::from_storage(s, shape)
}

struct MatMul;
impl Backward for MatMul {
    fn name(&self) -> &'static str {
        "matmul"
    }
    // C = A·B:  dA = G·Bᵀ,  dB = Aᵀ·G  (summed over broadcast batch dims)
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let (a, b) = (&inputs[0], &inputs[1]);
        if sink.wants(0) {
            let d = batched_tensor(grad, false, b, true);
            sink.add(0, super::binary::sum_to_shape(&d, a.shape()));
        }
        if sink.wants(1) {
            let d = batched_tensor(a, true, grad, false);
            sink.add(1, super::binary::sum_to_shape(&d, b.shape()));
        }
    }
}

impl Tensor {
    /// Matrix product with PyTorch's `matmul` rules: 2-D × 2-D; batched
    /// (leading dimensions broadcast); a 1-D operand is a vector (a row on the
    /// left, a column on the right) whose dimension is removed from the result.
    ///
    /// **Panics** naming both shapes if the inner dimensions differ or the
    /// batch dimensions do not broadcast.
    ///
    /// ```
    /// use downhill::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
    /// let b = Tensor::from_vec(vec![1.0f32, 1.0], &[2]);
    /// assert_eq!(a.matmul(&b).to_vec_f32(), vec![3.0, 7.0]);
    /// ```
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        assert!(
            self.ndim() >= 1 && other.ndim() >= 1,
            "matmul: shapes {:?} and {:?}: both operands need at least one dimension",
            self.shape(),
            other.shape()
        );
        let a = if self.ndim() == 1 {
            self.unsqueeze(0)
        } else {
            self.clone()
        };
        let b = if other.ndim() == 1 {
            other.unsqueeze(1)
        } else {
            other.clone()
        };
        let ka = a.shape()[a.ndim() - 1];
        let kb = b.shape()[b.ndim() - 2];
        assert_eq!(
            ka,
            kb,
            "matmul: shapes {:?} and {:?} do not chain ({ka} ≠ {kb})",
            self.shape(),
            other.shape()
        );
        let plain = crate::no_grad(|| batched_tensor(&a, false, &b, false));
        let shape = plain.shape().to_vec();
        let s = std::mem::replace(&mut *plain.write_storage(), Storage::F32(Vec::new()));
        let mut out = Tensor::from_op(s, shape, &[&a, &b], MatMul);
        if other.ndim() == 1 {
            out = out.squeeze(-1);
        }
        if self.ndim() == 1 {
            out = out.squeeze(if other.ndim() == 1 { -1 } else { -2 });
        }
        out
    }
}

struct Linear {
    has_bias: bool,
}

impl Backward for Linear {
    fn name(&self) -> &'static str {
        "linear"
    }
    // y = x·Wᵀ + b:  dx = G·W,  dW = Gᵀ·x,  db = Σ_rows G
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let (x, w) = (&inputs[0], &inputs[1]);
        let (out_f, in_f) = (w.shape()[0], w.shape()[1]);
        let rows = x.numel() / in_f.max(1);
        let g = grad.read_storage();
        let xs = x.read_storage();
        let ws = w.read_storage();
        macro_rules! go {
            ($T:ty, $g:expr, $x:expr, $w:expr) => {{
                if sink.wants(0) {
                    let mut dx = crate::tensor::pool::zeroed::<$T>(rows * in_f);
                    gemm(
                        true, rows, in_f, out_f, $g, false, $w, false, &mut dx, false,
                    );
                    sink.add(0, Tensor::from_storage(<$T>::wrap(dx), x.shape().to_vec()));
                }
                if sink.wants(1) {
                    let mut dw = crate::tensor::pool::zeroed::<$T>(out_f * in_f);
                    gemm(true, out_f, in_f, rows, $g, true, $x, false, &mut dw, false);
                    sink.add(1, Tensor::from_storage(<$T>::wrap(dw), vec![out_f, in_f]));
                }
                if self.has_bias && sink.wants(2) {
                    let mut db = vec![<$T>::ZERO; out_f];
                    for row in $g.chunks(out_f) {
                        db.iter_mut().zip(row).for_each(|(a, &b)| *a += b);
                    }
                    sink.add(2, Tensor::from_storage(<$T>::wrap(db), vec![out_f]));
                }
            }};
        }
        match (&*g, &*xs, &*ws) {
            (Storage::F32(g), Storage::F32(x), Storage::F32(w)) => go!(f32, g, x, w),
            (Storage::F64(g), Storage::F64(x), Storage::F64(w)) => go!(f64, g, x, w),
            _ => unreachable!("linear backward: operands share a dtype"),
        }
    }
}

/// The affine map of a dense layer, `y = x·Wᵀ + b`, fused into one op:
/// `x` is [..., in], `weight` is [out, in] (PyTorch's layout), `bias` is `[out]`.
///
/// **Panics** naming the shapes if `x`'s last dimension is not `in` or the
/// bias is not `[out]`.
///
/// ```
/// use downhill::{ops::linear, Tensor};
/// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2]);
/// let w = Tensor::from_vec(vec![1.0f32, 1.0, 0.0, 1.0], &[2, 2]);
/// let b = Tensor::from_vec(vec![0.5f32, 0.0], &[2]);
/// assert_eq!(linear(&x, &w, Some(&b)).to_vec_f32(), vec![3.5, 2.0]);
/// ```
#[track_caller]
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
    assert!(
        weight.ndim() == 2 && x.ndim() >= 1 && x.shape()[x.ndim() - 1] == weight.shape()[1],
        "linear: input shape {:?} does not match weight shape {:?} (expected [..., {}])",
        x.shape(),
        weight.shape(),
        weight.shape().get(1).copied().unwrap_or(0)
    );
    let (out_f, in_f) = (weight.shape()[0], weight.shape()[1]);
    if let Some(b) = bias {
        assert_eq!(
            b.shape(),
            [out_f],
            "linear: bias shape {:?} does not match weight shape {:?}",
            b.shape(),
            weight.shape()
        );
    }
    let rows = x.numel() / in_f.max(1);
    let mut shape = x.shape().to_vec();
    *shape.last_mut().expect("x has a dimension") = out_f;
    let s = {
        let xs = x.read_storage();
        let ws = weight.read_storage();
        let bs = bias.map(|b| b.read_storage());
        macro_rules! go {
            ($T:ty, $x:expr, $w:expr, $b:expr) => {{
                let mut y: Vec<$T> = match $b {
                    Some(b) => {
                        let mut y = crate::tensor::pool::zeroed::<$T>(rows * out_f);
                        for row in y.chunks_mut(out_f.max(1)) {
                            row.copy_from_slice(b);
                        }
                        y
                    }
                    None => crate::tensor::pool::zeroed::<$T>(rows * out_f),
                };
                gemm(true, rows, out_f, in_f, $x, false, $w, true, &mut y, true);
                <$T>::wrap(y)
            }};
        }
        match (&*xs, &*ws, bs.as_deref()) {
            (Storage::F32(x), Storage::F32(w), None) => go!(f32, x, w, None::<&[f32]>),
            (Storage::F32(x), Storage::F32(w), Some(Storage::F32(b))) => {
                go!(f32, x, w, Some(&b[..]))
            }
            (Storage::F64(x), Storage::F64(w), None) => go!(f64, x, w, None::<&[f64]>),
            (Storage::F64(x), Storage::F64(w), Some(Storage::F64(b))) => {
                go!(f64, x, w, Some(&b[..]))
            }
            _ => panic!(
                "linear: dtypes differ (input {}, weight {}{})",
                xs.dtype(),
                ws.dtype(),
                bs.as_ref()
                    .map(|b| format!(", bias {}", b.dtype()))
                    .unwrap_or_default()
            ),
        }
    };
    match bias {
        Some(b) => Tensor::from_op(s, shape, &[x, weight, b], Linear { has_bias: true }),
        None => Tensor::from_op(s, shape, &[x, weight], Linear { has_bias: false }),
    }
}
