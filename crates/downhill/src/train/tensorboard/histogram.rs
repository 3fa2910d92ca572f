//! Histograms of tensors in TensorBoard's `HistogramProto` form.

use super::proto::HistogramProto;

/// A histogram of the finite `values` in `buckets` equal-width buckets
/// between their minimum and maximum (one bucket if they are all equal, none
/// if there are no finite values). Bucket `i` holds the values in
/// `(limit[i-1], limit[i]]`, the first also its left edge.
///
/// # Panics
/// If `buckets` is 0.
pub fn histogram(values: &[f64], buckets: usize) -> HistogramProto {
    assert!(buckets > 0, "histogram: needs at least one bucket");
    let mut h = HistogramProto {
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        ..HistogramProto::default()
    };
    for &v in values.iter().filter(|v| v.is_finite()) {
        h.min = h.min.min(v);
        h.max = h.max.max(v);
        h.num += 1.0;
        h.sum += v;
        h.sum_squares += v * v;
    }
    if h.num == 0.0 {
        h.min = 0.0;
        h.max = 0.0;
        return h;
    }
    let width = (h.max - h.min) / buckets as f64;
    if width <= 0.0 || !width.is_finite() {
        h.bucket_limit = vec![h.max];
        h.bucket = vec![h.num];
        return h;
    }
    h.bucket_limit = (1..=buckets).map(|i| h.min + width * i as f64).collect();
    h.bucket_limit[buckets - 1] = h.max;
    h.bucket = vec![0.0; buckets];
    for &v in values.iter().filter(|v| v.is_finite()) {
        // Bucket i covers (min + i·w, min + (i+1)·w]; the minimum goes in the first.
        let i = (((v - h.min) / width).ceil() as usize).clamp(1, buckets) - 1;
        h.bucket[i] += 1.0;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_finite_value_once_in_its_bucket() {
        let v = [0.0, 1.0, 2.0, 3.0, 4.0, f64::NAN, 4.0];
        let h = histogram(&v, 4);
        assert_eq!(h.bucket_limit, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(h.bucket, vec![2.0, 1.0, 1.0, 2.0]);
        assert_eq!(
            (h.min, h.max, h.num, h.sum, h.sum_squares),
            (0.0, 4.0, 6.0, 14.0, 46.0)
        );
    }

    #[test]
    fn constant_and_empty_inputs_give_valid_histograms() {
        let h = histogram(&[2.5; 3], 30);
        assert_eq!((h.bucket_limit, h.bucket), (vec![2.5], vec![3.0]));
        let h = histogram(&[f64::INFINITY], 30);
        assert_eq!((h.num, h.bucket.len()), (0.0, 0));
    }
}
