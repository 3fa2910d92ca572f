//! Shapes, strides and NumPy broadcasting: every shape rule lives here, once.

/// Number of elements of a shape (1 for a 0-d scalar).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Shape equality, inlined: a length check and a short loop (slice `==`
/// calls `memcmp`, which dominated the per-op cost of small graphs).
#[inline(always)]
pub(crate) fn same(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Row-major (C-order) strides of a shape, in elements.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The broadcast shape of `a` and `b` under NumPy's rules (align trailing
/// dimensions; a dimension of 1 stretches).
///
/// **Panics** naming `op` and both shapes if they are incompatible.
#[track_caller]
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Vec<usize> {
    if same(a, b) {
        return a.to_vec();
    }
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            panic!("{op}: shapes {a:?} and {b:?} cannot be broadcast together (dimension {i}: {da} vs {db})");
        };
    }
    out
}

/// Strides that read a tensor of shape `from` as if it had the (broadcast)
/// shape `to`: 0 along stretched or new dimensions.
pub(crate) fn broadcast_strides(from: &[usize], to: &[usize]) -> Vec<usize> {
    let own = strides(from);
    let off = to.len() - from.len();
    (0..to.len())
        .map(|i| {
            if i < off || from[i - off] == 1 {
                0
            } else {
                own[i - off]
            }
        })
        .collect()
}

/// Normalizes a possibly negative axis (`-1` = last) against `ndim`.
///
/// **Panics** naming `op` if it is out of range.
#[track_caller]
pub fn normalize_axis(op: &str, axis: isize, ndim: usize) -> usize {
    let n = ndim as isize;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n.max(1) || (ndim == 0 && a != 0) {
        panic!("{op}: axis {axis} is out of range for a tensor with {ndim} dimensions");
    }
    a as usize
}

/// Splits `shape` around `axis` into (outer, dim, inner) element counts.
pub(crate) fn outer_dim_inner(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    if shape.is_empty() {
        return (1, 1, 1);
    }
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes("add", &[2, 3], &[3]), vec![2, 3]);
        assert_eq!(broadcast_shapes("add", &[4, 1, 3], &[5, 1]), vec![4, 5, 3]);
        assert_eq!(broadcast_shapes("add", &[], &[2]), vec![2]);
    }

    #[test]
    #[should_panic(expected = "add: shapes [2, 3] and [4] cannot be broadcast")]
    fn incompatible_broadcast_names_op_and_shapes() {
        broadcast_shapes("add", &[2, 3], &[4]);
    }

    #[test]
    fn broadcast_strides_zero_on_stretched_dims() {
        assert_eq!(broadcast_strides(&[3], &[2, 3]), vec![0, 1]);
        assert_eq!(broadcast_strides(&[2, 1], &[2, 3]), vec![1, 0]);
    }
}
