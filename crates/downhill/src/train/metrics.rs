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
    let (mut tp, mut fp, mut fn_) = (vec![0usize; k], vec![0usize; k], vec![0usize; k]);
    let mut present = vec![false; k];
    let mut correct = 0;
    for (&p, &t) in pred.iter().zip(truth) {
        present[p] = true;
        present[t] = true;
        if p == t {
            tp[p] += 1;
            correct += 1;
        } else {
            fp[p] += 1;
            fn_[t] += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (mut p_sum, mut r_sum, mut f_sum, mut classes) = (0.0, 0.0, 0.0, 0usize);
    for c in (0..k).filter(|&c| present[c]) {
        let p = ratio(tp[c], tp[c] + fp[c]);
        let r = ratio(tp[c], tp[c] + fn_[c]);
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
    let c = classes.max(1) as f64;
    let mut m = Metrics::new();
    m.insert("accuracy".into(), ratio(correct, pred.len()));
    m.insert("precision_macro".into(), p_sum / c);
    m.insert("recall_macro".into(), r_sum / c);
    m.insert("f1_macro".into(), f_sum / c);
    m
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
    let n = (truth.len() / width).max(1);
    let (mut se, mut ae) = (0.0, 0.0);
    for (p, t) in pred.iter().zip(truth) {
        se += (p - t) * (p - t);
        ae += (p - t).abs();
    }
    let mut r2 = 0.0;
    for j in 0..width {
        let mean = truth.iter().skip(j).step_by(width).sum::<f64>() / n as f64;
        let (mut ss_res, mut ss_tot) = (0.0, 0.0);
        for (p, t) in pred
            .iter()
            .skip(j)
            .step_by(width)
            .zip(truth.iter().skip(j).step_by(width))
        {
            ss_res += (p - t) * (p - t);
            ss_tot += (t - mean) * (t - mean);
        }
        r2 += if ss_tot > 0.0 {
            1.0 - ss_res / ss_tot
        } else if ss_res == 0.0 {
            1.0
        } else {
            0.0
        };
    }
    let total = truth.len().max(1) as f64;
    let mut m = Metrics::new();
    m.insert("rmse".into(), (se / total).sqrt());
    m.insert("mae".into(), ae / total);
    m.insert("r2".into(), r2 / width as f64);
    m
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
    crate::no_grad(|| {
        let n = data.len();
        let mut total = 0.0;
        let mut preds = Vec::new();
        let mut truth_c = Vec::new();
        let (mut pv, mut tv, mut width) = (Vec::new(), Vec::new(), 1);
        let mut start = 0;
        while start < n {
            let end = (start + EVAL_CHUNK).min(n);
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
        let mut m = if !truth_c.is_empty() {
            classification_metrics(&preds, &truth_c)
        } else {
            if let Some(s) = data.target_scaler() {
                s.inverse_transform(&mut pv, width);
                s.inverse_transform(&mut tv, width);
            }
            regression_metrics(&pv, &tv, width)
        };
        m.insert("loss".into(), total / n.max(1) as f64);
        m
    })
}
