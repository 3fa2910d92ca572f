//! Evaluation metrics: accuracy and macro precision/recall/F1 for
//! classification; RMSE, MAE and R² for regression (scikit-learn's
//! definitions).

use std::collections::BTreeMap;

use crate::data::{Dataset, Targets};
use crate::loss::Loss;
use crate::nn::Module;
use crate::Tensor;

/// Named metric values (`loss`, `accuracy`, `f1_macro`, `rmse`, …), in name order.
pub type Metrics = BTreeMap<String, f64>;

/// Accuracy and macro-averaged precision, recall and F1 of predicted class
/// indices against true ones. Like scikit-learn, the classes averaged over
/// are those present in either, and an undefined ratio counts as 0.
///
/// ```
/// use downhill::train::classification_metrics;
/// let m = classification_metrics(&[0, 1, 1, 2], &[0, 1, 2, 2]);
/// assert_eq!(m["accuracy"], 0.75);
/// assert!((m["f1_macro"] - (1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
/// ```
pub fn classification_metrics(pred: &[usize], truth: &[usize]) -> Metrics {
    assert_eq!(
        pred.len(),
        truth.len(),
        "classification_metrics: {} predictions but {} targets",
        pred.len(),
        truth.len()
    );
    let k = pred.iter().chain(truth).copied().max().map_or(0, |m| m + 1);
    ClassCounts::of(pred, truth, k).metrics()
}

/// The counts classification metrics are made of: per class true
/// positives, false positives, false negatives and presence, the correct
/// predictions and the samples. Counts add up over shards of a data set
/// (exact in `f64` below 2⁵³), so a data-parallel evaluation sums them.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ClassCounts {
    /// `[tp (k), fp (k), fn (k), present (k), correct, samples]`.
    pub(super) counts: Vec<f64>,
    pub(super) k: usize,
}

impl ClassCounts {
    /// The counts of `pred` against `truth` over classes `0..k`.
    pub(super) fn of(pred: &[usize], truth: &[usize], k: usize) -> Self {
        let mut c = vec![0.0; 4 * k + 2];
        for (&p, &t) in pred.iter().zip(truth) {
            c[3 * k + p] = 1.0;
            c[3 * k + t] = 1.0;
            if p == t {
                c[p] += 1.0;
                c[4 * k] += 1.0;
            } else {
                c[k + p] += 1.0;
                c[2 * k + t] += 1.0;
            }
        }
        c[4 * k + 1] = pred.len() as f64;
        ClassCounts { counts: c, k }
    }

    /// Accuracy and macro precision, recall and F1 (presence summed over
    /// shards counts as present when above 0).
    pub(super) fn metrics(&self) -> Metrics {
        let (k, c) = (self.k, &self.counts);
        let (tp, fp, fn_) = (&c[..k], &c[k..2 * k], &c[2 * k..3 * k]);
        let ratio = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
        let (mut p_sum, mut r_sum, mut f_sum, mut classes) = (0.0, 0.0, 0.0, 0usize);
        for cl in (0..k).filter(|&cl| c[3 * k + cl] > 0.0) {
            let p = ratio(tp[cl], tp[cl] + fp[cl]);
            let r = ratio(tp[cl], tp[cl] + fn_[cl]);
            let f = if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            };
            p_sum += p;
            r_sum += r;
            f_sum += f;
            classes += 1;
        }
        let n = classes.max(1) as f64;
        let mut m = Metrics::new();
        m.insert("accuracy".into(), ratio(c[4 * k], c[4 * k + 1]));
        m.insert("precision_macro".into(), p_sum / n);
        m.insert("recall_macro".into(), r_sum / n);
        m.insert("f1_macro".into(), f_sum / n);
        m
    }
}

/// RMSE, MAE and R² of predictions against targets (row-major, `width`
/// outputs per sample). R² is averaged uniformly over outputs; for a
/// constant target it is 1 if predicted exactly, else 0 (scikit-learn).
///
/// ```
/// use downhill::train::regression_metrics;
/// let m = regression_metrics(&[1.0, 2.0, 4.0], &[1.0, 2.0, 3.0], 1);
/// assert!((m["rmse"] - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
/// assert!((m["mae"] - 1.0 / 3.0).abs() < 1e-12);
/// assert!((m["r2"] - 0.5).abs() < 1e-12);
/// ```
pub fn regression_metrics(pred: &[f64], truth: &[f64], width: usize) -> Metrics {
    assert_eq!(
        pred.len(),
        truth.len(),
        "regression_metrics: {} predictions but {} targets",
        pred.len(),
        truth.len()
    );
    let width = width.max(1);
    let mut first = RegressionSums::first_pass(pred, truth, width);
    let mean = first.column_means();
    first.second_pass(pred, truth, &mean);
    first.metrics()
}

/// The sums regression metrics are made of, in two passes (the second
/// needs the column means of the first): they add up over shards of a data
/// set, so a data-parallel evaluation sums each pass over the processes.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RegressionSums {
    pub(super) width: usize,
    /// `[squared errors, absolute errors, elements, Σ target per column (width)]`.
    pub(super) first: Vec<f64>,
    /// `[residual squares per column (width), total squares per column (width)]`.
    pub(super) second: Vec<f64>,
}

impl RegressionSums {
    /// The first pass over row-major `pred` and `truth` of `width` columns.
    pub(super) fn first_pass(pred: &[f64], truth: &[f64], width: usize) -> Self {
        let mut first = vec![0.0; 3 + width];
        for (p, t) in pred.iter().zip(truth) {
            first[0] += (p - t) * (p - t);
            first[1] += (p - t).abs();
        }
        first[2] = truth.len() as f64;
        for j in 0..width {
            first[3 + j] = truth.iter().skip(j).step_by(width).sum::<f64>();
        }
        RegressionSums {
            width,
            first,
            second: vec![0.0; 2 * width],
        }
    }

    /// The target's column means (of the first pass's sums).
    pub(super) fn column_means(&self) -> Vec<f64> {
        let rows = ((self.first[2] as usize) / self.width).max(1) as f64;
        self.first[3..].iter().map(|s| s / rows).collect()
    }

    /// The second pass: per column residual and total sums of squares.
    pub(super) fn second_pass(&mut self, pred: &[f64], truth: &[f64], mean: &[f64]) {
        let w = self.width;
        for (j, &m) in mean.iter().enumerate().take(w) {
            let (mut ss_res, mut ss_tot) = (0.0, 0.0);
            for (p, t) in pred
                .iter()
                .skip(j)
                .step_by(w)
                .zip(truth.iter().skip(j).step_by(w))
            {
                ss_res += (p - t) * (p - t);
                ss_tot += (t - m) * (t - m);
            }
            self.second[j] = ss_res;
            self.second[w + j] = ss_tot;
        }
    }

    /// RMSE, MAE and R² from the (summed) passes.
    pub(super) fn metrics(&self) -> Metrics {
        let w = self.width;
        let mut r2 = 0.0;
        for j in 0..w {
            let (ss_res, ss_tot) = (self.second[j], self.second[w + j]);
            r2 += if ss_tot > 0.0 {
                1.0 - ss_res / ss_tot
            } else if ss_res == 0.0 {
                1.0
            } else {
                0.0
            };
        }
        let total = self.first[2].max(1.0);
        let mut m = Metrics::new();
        m.insert("rmse".into(), (self.first[0] / total).sqrt());
        m.insert("mae".into(), self.first[1] / total);
        m.insert("r2".into(), r2 / w as f64);
        m
    }
}

/// Rows per forward pass when evaluating (bounds memory on large sets).
const EVAL_CHUNK: usize = 4096;

/// The model's outputs on every sample of `data`, in order, without
/// recording gradients, as `f64` row-major with the output width.
pub fn predict(model: &dyn Module, data: &dyn Dataset) -> (Vec<f64>, usize) {
    crate::no_grad(|| {
        let n = data.len();
        let mut out = Vec::new();
        let mut width = 0;
        let mut start = 0;
        while start < n {
            let end = (start + EVAL_CHUNK).min(n);
            let idx: Vec<usize> = (start..end).collect();
            let b = data.batch(&idx);
            let y = model.forward(&b.inputs);
            width = y.numel() / (end - start);
            out.extend(y.to_vec_f64());
            start = end;
        }
        (out, width)
    })
}

/// Loss and metrics of `model` on `data` in evaluation order (the caller
/// sets evaluation mode). The loss is the mean over samples (the loss must
/// use mean reduction); classification targets give accuracy and macro
/// precision/recall/F1, value targets RMSE, MAE and R² — in the target's own
/// units when the dataset says how its targets were scaled
/// ([`Dataset::target_scaler`]); the loss stays in the scaled space.
pub fn evaluate(model: &dyn Module, loss: &dyn Loss, data: &dyn Dataset) -> Metrics {
    let n = data.len();
    let o = outputs(model, loss, data, 0..n);
    let mut m = match &o.kind {
        Outputs::Classes { pred, truth } => classification_metrics(pred, truth),
        Outputs::Values { pred, truth } => regression_metrics(pred, truth, o.width),
    };
    m.insert("loss".into(), o.loss_sum / n.max(1) as f64);
    m
}

/// What a model gave on some rows of a data set: the loss summed over the
/// rows, and predictions with targets (value targets in their own units).
pub(super) struct Evaluated {
    pub(super) loss_sum: f64,
    pub(super) width: usize,
    pub(super) kind: Outputs,
}

/// Predictions and targets, by kind of target.
pub(super) enum Outputs {
    /// Predicted and true class indices.
    Classes { pred: Vec<usize>, truth: Vec<usize> },
    /// Predicted and true values, row-major.
    Values { pred: Vec<f64>, truth: Vec<f64> },
}

/// The model's loss and outputs on rows `rows` of `data`, in chunks,
/// without recording gradients (the loss must use mean reduction).
pub(super) fn outputs(
    model: &dyn Module,
    loss: &dyn Loss,
    data: &dyn Dataset,
    rows: std::ops::Range<usize>,
) -> Evaluated {
    crate::no_grad(|| {
        let mut total = 0.0;
        let mut preds = Vec::new();
        let mut truth_c = Vec::new();
        let (mut pv, mut tv, mut width) = (Vec::new(), Vec::new(), 1);
        let mut start = rows.start;
        while start < rows.end {
            let end = (start + EVAL_CHUNK).min(rows.end);
            let idx: Vec<usize> = (start..end).collect();
            let b = data.batch(&idx);
            let y: Tensor = model.forward(&b.inputs);
            let l = loss.forward(&y, b.targets.as_target(), &[]).item();
            total += l * (end - start) as f64;
            match &b.targets {
                Targets::Classes(c) => {
                    preds.extend(y.argmax(-1));
                    truth_c.extend_from_slice(c);
                }
                Targets::Values(t) => {
                    width = t.numel() / (end - start);
                    pv.extend(y.to_vec_f64());
                    tv.extend(t.to_vec_f64());
                }
            }
            start = end;
        }
        // An empty share of a data set peeks at its first row for the kind.
        let classes = if rows.is_empty() {
            !data.is_empty() && matches!(data.batch(&[0]).targets, Targets::Classes(_))
        } else {
            !truth_c.is_empty()
        };
        let kind = if classes {
            Outputs::Classes {
                pred: preds,
                truth: truth_c,
            }
        } else {
            if let Some(s) = data.target_scaler() {
                s.inverse_transform(&mut pv, width);
                s.inverse_transform(&mut tv, width);
            }
            Outputs::Values {
                pred: pv,
                truth: tv,
            }
        };
        Evaluated {
            loss_sum: total,
            width,
            kind,
        }
    })
}
