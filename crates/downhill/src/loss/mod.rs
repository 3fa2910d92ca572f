//! Losses: the discrepancy between predictions and targets, with PyTorch's
//! semantics, options and reductions (every file of the PyTorch reference
//! values is a test), and regularization penalties.
//!
//! ```
//! use downhill::loss::{CrossEntropyLoss, MseLoss};
//! use downhill::Tensor;
//! let pred = Tensor::from_vec(vec![0.5f64, 1.5], &[2]);
//! let target = Tensor::from_vec(vec![1.0f64, 1.0], &[2]);
//! assert_eq!(MseLoss::default().loss(&pred, &target).item(), 0.25);
//!
//! let logits = Tensor::from_vec(vec![2.0f64, 0.0, 0.0, 2.0], &[2, 2]);
//! let ce = CrossEntropyLoss::default().loss(&logits, &[0, 1]);
//! assert!((ce.item() - (1.0 + (-2.0f64).exp()).ln()).abs() < 1e-12);
//! ```

mod classification;
mod cross_entropy;
mod margin;
mod regression;
pub mod regularization;

pub use classification::{BceLoss, BceWithLogitsLoss, KlDivLoss, NllLoss};
pub use cross_entropy::CrossEntropyLoss;
pub use margin::{
    CosineEmbeddingLoss, MarginRankingLoss, MultiLabelSoftMarginLoss, MultiMarginLoss,
    SoftMarginLoss, TripletMarginLoss,
};
pub use regression::{GaussianNllLoss, HuberLoss, L1Loss, MseLoss, PoissonNllLoss, SmoothL1Loss};
pub use regularization::Penalty;

/// What a loss compares its input with; defined in [`crate::data`] (batches
/// carry it) and re-exported here, so `data` does not depend on `loss`.
pub use crate::data::Target;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, Tensor};

/// How per-element losses combine into the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// Keep one loss per element (or sample).
    None,
    /// Average (PyTorch's default; weighted losses divide by the total weight).
    #[default]
    Mean,
    /// Sum.
    Sum,
    /// Sum divided by the batch size (KLDivLoss only).
    BatchMean,
}

impl Reduction {
    pub(crate) fn apply(self, x: Tensor) -> Tensor {
        match self {
            Reduction::None => x,
            Reduction::Mean => x.mean(),
            Reduction::Sum => x.sum(),
            Reduction::BatchMean => {
                let n = if x.ndim() == 0 { 1 } else { x.shape()[0] };
                x.sum().div_scalar(n as f64)
            }
        }
    }
}

/// Any loss, for code that picks one at run time (the CLI, configs).
pub trait Loss: Send + Sync {
    /// PyTorch's name (`"CrossEntropyLoss"`).
    fn name(&self) -> &'static str;
    /// The loss of `input` against `target`; `extra` holds the further inputs
    /// some losses take (GaussianNLLLoss: `var`; MarginRankingLoss and
    /// CosineEmbeddingLoss: `y`; TripletMarginLoss: `negative`), in that order.
    ///
    /// **Panics** on shape mismatches or a target of the wrong kind.
    fn forward(&self, input: &Tensor, target: Target<'_>, extra: &[&Tensor]) -> Tensor;
}

#[track_caller]
pub(crate) fn tensor_target<'a>(name: &str, t: Target<'a>) -> &'a Tensor {
    match t {
        Target::Tensor(t) => t,
        Target::Indices(_) => panic!("{name}: expects a target tensor, got class indices"),
    }
}

#[track_caller]
pub(crate) fn index_target<'a>(name: &str, t: Target<'a>) -> &'a [usize] {
    match t {
        Target::Indices(i) => i,
        Target::Tensor(_) => panic!("{name}: expects class indices, got a tensor"),
    }
}

#[track_caller]
pub(crate) fn same_shape(name: &str, a: &Tensor, b: &Tensor) {
    assert!(
        a.shape() == b.shape(),
        "{name}: input shape {:?} and target shape {:?} differ",
        a.shape(),
        b.shape()
    );
}

/// A weight vector from JSON parameters (as the factory receives them).
fn weight_param(name: &str, key: &str, p: &serde_json::Value) -> Result<Option<Tensor>> {
    match p.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => {
            let w: Vec<f64> =
                serde_json::from_value(v.clone()).map_err(|e| Error::InvalidArgument {
                    name: format!("{name}.{key}"),
                    message: e.to_string(),
                })?;
            let n = w.len();
            Ok(Some(Tensor::from_vec(w, &[n])))
        }
    }
}

/// Builds a loss from its PyTorch name and parameters as JSON (PyTorch's
/// names: `reduction`, `weight`, `ignore_index`, `label_smoothing`, `beta`,
/// `delta`, `pos_weight`, `margin`, `p`, …). Weights are built in f64 and
/// converted to the input's dtype when used.
///
/// **Errors** on an unknown loss or parameter, or an ill-typed value.
///
/// ```
/// use downhill::loss::{from_config, Target};
/// use downhill::Tensor;
/// let l = from_config("MSELoss", &serde_json::json!({"reduction": "sum"})).unwrap();
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
/// let y = Tensor::from_vec(vec![0.0f64, 0.0], &[2]);
/// assert_eq!(l.forward(&x, Target::Tensor(&y), &[]).item(), 5.0);
/// ```
pub fn from_config(name: &str, p: &serde_json::Value) -> Result<Box<dyn Loss>> {
    let bad = |key: &str, m: String| Error::InvalidArgument {
        name: format!("{name}.{key}"),
        message: m,
    };
    let known: &[&str] = match name {
        "MSELoss" | "L1Loss" | "SoftMarginLoss" => &["reduction"],
        "SmoothL1Loss" => &["reduction", "beta"],
        "HuberLoss" => &["reduction", "delta"],
        "BCELoss" | "MultiLabelSoftMarginLoss" => &["reduction", "weight"],
        "BCEWithLogitsLoss" => &["reduction", "weight", "pos_weight"],
        "CrossEntropyLoss" => &[
            "reduction",
            "weight",
            "ignore_index",
            "label_smoothing",
            "target_kind",
        ],
        "NLLLoss" => &["reduction", "weight", "ignore_index"],
        "KLDivLoss" => &["reduction", "log_target"],
        "PoissonNLLLoss" => &["reduction", "log_input", "full", "eps"],
        "GaussianNLLLoss" => &["reduction", "full", "eps"],
        "MultiMarginLoss" => &["reduction", "p", "margin", "weight"],
        "MarginRankingLoss" | "CosineEmbeddingLoss" => &["reduction", "margin"],
        "TripletMarginLoss" => &["reduction", "margin", "p", "eps", "swap"],
        _ => {
            return Err(Error::InvalidArgument {
                name: name.to_string(),
                message: "unknown loss".into(),
            })
        }
    };
    if let Some(obj) = p.as_object() {
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(bad(k, format!("unknown parameter; {name} takes {known:?}")));
        }
    }
    let reduction: Reduction = match p.get("reduction") {
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| bad("reduction", e.to_string()))?
        }
        None => Reduction::Mean,
    };
    if reduction == Reduction::BatchMean && name != "KLDivLoss" {
        return Err(bad("reduction", "batchmean is only for KLDivLoss".into()));
    }
    let f = |key: &str, d: f64| -> Result<f64> {
        p.get(key).map_or(Ok(d), |v| {
            v.as_f64()
                .ok_or_else(|| bad(key, "must be a number".into()))
        })
    };
    let b = |key: &str, d: bool| -> Result<bool> {
        p.get(key).map_or(Ok(d), |v| {
            v.as_bool()
                .ok_or_else(|| bad(key, "must be true or false".into()))
        })
    };
    let ignore_index = match p.get("ignore_index") {
        None => None,
        Some(v) => match v.as_i64() {
            Some(i) if i < 0 => None,
            Some(i) => Some(i as usize),
            None => return Err(bad("ignore_index", "must be an integer".into())),
        },
    };
    Ok(match name {
        "MSELoss" => Box::new(MseLoss { reduction }),
        "L1Loss" => Box::new(L1Loss { reduction }),
        "SmoothL1Loss" => Box::new(SmoothL1Loss {
            reduction,
            beta: f("beta", 1.0)?,
        }),
        "HuberLoss" => Box::new(HuberLoss {
            reduction,
            delta: f("delta", 1.0)?,
        }),
        "BCELoss" => Box::new(BceLoss {
            reduction,
            weight: weight_param(name, "weight", p)?,
        }),
        "BCEWithLogitsLoss" => Box::new(BceWithLogitsLoss {
            reduction,
            weight: weight_param(name, "weight", p)?,
            pos_weight: weight_param(name, "pos_weight", p)?,
        }),
        "CrossEntropyLoss" => Box::new(CrossEntropyLoss {
            reduction,
            weight: weight_param(name, "weight", p)?,
            ignore_index,
            label_smoothing: f("label_smoothing", 0.0)?,
        }),
        "NLLLoss" => Box::new(NllLoss {
            reduction,
            weight: weight_param(name, "weight", p)?,
            ignore_index,
        }),
        "KLDivLoss" => Box::new(KlDivLoss {
            reduction,
            log_target: b("log_target", false)?,
        }),
        "PoissonNLLLoss" => Box::new(PoissonNllLoss {
            reduction,
            log_input: b("log_input", true)?,
            full: b("full", false)?,
            eps: f("eps", 1e-8)?,
        }),
        "GaussianNLLLoss" => Box::new(GaussianNllLoss {
            reduction,
            full: b("full", false)?,
            eps: f("eps", 1e-6)?,
        }),
        "MultiMarginLoss" => Box::new(MultiMarginLoss {
            reduction,
            p: f("p", 1.0)? as u32,
            margin: f("margin", 1.0)?,
            weight: weight_param(name, "weight", p)?,
        }),
        "SoftMarginLoss" => Box::new(SoftMarginLoss { reduction }),
        "MultiLabelSoftMarginLoss" => Box::new(MultiLabelSoftMarginLoss {
            reduction,
            weight: weight_param(name, "weight", p)?,
        }),
        "MarginRankingLoss" => Box::new(MarginRankingLoss {
            reduction,
            margin: f("margin", 0.0)?,
        }),
        "CosineEmbeddingLoss" => Box::new(CosineEmbeddingLoss {
            reduction,
            margin: f("margin", 0.0)?,
        }),
        "TripletMarginLoss" => Box::new(TripletMarginLoss {
            reduction,
            margin: f("margin", 1.0)?,
            p: f("p", 2.0)?,
            eps: f("eps", 1e-6)?,
            swap: b("swap", false)?,
        }),
        _ => unreachable!("names checked above"),
    })
}

/// `w` converted to `like`'s dtype (weights are configured in f64).
pub(crate) fn as_dtype(w: &Tensor, like: &Tensor) -> Tensor {
    w.to_dtype(like.dtype())
}
