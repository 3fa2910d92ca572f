//! Differentiable operations, one file per family. Each op's forward and its
//! backward rule sit side by side; kernels are written once, generic over the
//! element type, and run on both cores above a size threshold.

pub(crate) mod binary;
pub(crate) mod chunks;
pub(crate) mod conv;
pub(crate) mod index;
pub(crate) mod matmul;
pub(crate) mod norm;
pub(crate) mod patches;
pub(crate) mod pool;
pub(crate) mod reduce;
pub(crate) mod shape;
pub(crate) mod softmax;
pub(crate) mod unary;
pub(crate) mod wide;
pub(crate) mod winograd;

pub use conv::{conv1d, conv2d};
pub use matmul::linear;
pub use patches::{conv_out, Conv2dConfig};
pub use pool::{adaptive_avg_pool2d, avg_pool2d, max_pool2d, Pool2dConfig};
pub use unary::GeluApproximate;

use rayon::prelude::*;

/// Elementwise work below this many elements stays on the calling thread:
/// spreading it over the pool costs more than it saves.
pub(crate) const PAR_THRESHOLD: usize = 1 << 15;
const PAR_MIN_LEN: usize = 1 << 12;

/// `out[i] = f(a[i])`.
pub(crate) fn map<T: Copy + Sync, U: Send + 'static>(
    a: &[T],
    f: impl Fn(T) -> U + Sync + Send,
) -> Vec<U> {
    if a.len() >= PAR_THRESHOLD {
        let mut out = crate::tensor::pool::with_capacity(a.len());
        a.par_iter()
            .with_min_len(PAR_MIN_LEN)
            .map(|&x| f(x))
            .collect_into_vec(&mut out);
        out
    } else {
        a.iter().map(|&x| f(x)).collect()
    }
}

/// `out[i] = f(a[i], b[i])` for equal lengths.
pub(crate) fn zip_map<T: Copy + Sync, U: Copy + Sync, V: Send + 'static>(
    a: &[T],
    b: &[U],
    f: impl Fn(T, U) -> V + Sync + Send,
) -> Vec<V> {
    debug_assert_eq!(a.len(), b.len());
    if a.len() >= PAR_THRESHOLD {
        let mut out = crate::tensor::pool::with_capacity(a.len());
        a.par_iter()
            .zip(b.par_iter())
            .with_min_len(PAR_MIN_LEN)
            .map(|(&x, &y)| f(x, y))
            .collect_into_vec(&mut out);
        out
    } else {
        a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
    }
}

/// `out[i] = f(a[i], b[i], c[i])` for equal lengths.
pub(crate) fn zip3_map<T: Copy + Sync, V: Send + 'static>(
    a: &[T],
    b: &[T],
    c: &[T],
    f: impl Fn(T, T, T) -> V + Sync + Send,
) -> Vec<V> {
    debug_assert!(a.len() == b.len() && b.len() == c.len());
    if a.len() >= PAR_THRESHOLD {
        let mut out = crate::tensor::pool::with_capacity(a.len());
        a.par_iter()
            .zip(b.par_iter())
            .zip(c.par_iter())
            .with_min_len(PAR_MIN_LEN)
            .map(|((&x, &y), &z)| f(x, y, z))
            .collect_into_vec(&mut out);
        out
    } else {
        a.iter()
            .zip(b)
            .zip(c)
            .map(|((&x, &y), &z)| f(x, y, z))
            .collect()
    }
}

/// `a[i] = f(a[i], b[i])` in place.
pub(crate) fn zip_apply<T: Send + Sync + Copy>(
    a: &mut [T],
    b: &[T],
    f: impl Fn(T, T) -> T + Sync + Send,
) {
    if a.len() >= PAR_THRESHOLD {
        a.par_iter_mut()
            .zip(b.par_iter())
            .with_min_len(PAR_MIN_LEN)
            .for_each(|(x, &y)| *x = f(*x, y));
    } else {
        a.iter_mut().zip(b).for_each(|(x, &y)| *x = f(*x, y));
    }
}

/// Work (elements touched) below which a kernel stays on the calling thread:
/// handing a job to the pool and waiting for it costs a futex round trip.
pub(crate) const PAR_WORK: usize = 1 << 17;

/// `f(i, chunk)` over the `len`-sized chunks of `data`, on the pool only when
/// `work` repays it.
pub(crate) fn for_chunks<T: Send>(
    data: &mut [T],
    len: usize,
    work: usize,
    f: impl Fn((usize, &mut [T])) + Sync + Send,
) {
    if work >= PAR_WORK {
        data.par_chunks_mut(len).enumerate().for_each(f);
    } else {
        data.chunks_mut(len).enumerate().for_each(f);
    }
}

/// One value per row of `len` elements: `out[r] = f(row r)`; rows in parallel when large.
pub(crate) fn map_rows<T: Copy + Sync, U: Send>(
    x: &[T],
    len: usize,
    f: impl Fn(&[T]) -> U + Sync + Send,
) -> Vec<U> {
    if len == 0 {
        return Vec::new();
    }
    if x.len() >= PAR_THRESHOLD {
        let mut out = Vec::with_capacity(x.len() / len);
        x.par_chunks(len).map(f).collect_into_vec(&mut out);
        out
    } else {
        x.chunks(len).map(f).collect()
    }
}
