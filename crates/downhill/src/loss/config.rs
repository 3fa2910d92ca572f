//! Losses from their PyTorch names and JSON parameters, every value checked
//! against PyTorch's rules.

use serde_json::{Map, Value};

use super::{
    BceLoss, BceWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, GaussianNllLoss, HuberLoss,
    KlDivLoss, L1Loss, Loss, MarginRankingLoss, MseLoss, MultiLabelSoftMarginLoss, MultiMarginLoss,
    NllLoss, PoissonNllLoss, Reduction, SmoothL1Loss, SoftMarginLoss, TripletMarginLoss,
};
use crate::validate::{above, at_least, finite, invalid, within};
use crate::{Result, Tensor};

/// Every loss [`from_config`] builds, by PyTorch's name.
pub const NAMES: &[&str] = &[
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "HuberLoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "KLDivLoss",
    "PoissonNLLLoss",
    "GaussianNLLLoss",
    "MultiMarginLoss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MarginRankingLoss",
    "CosineEmbeddingLoss",
    "TripletMarginLoss",
];

/// The parameters a loss takes (PyTorch's names); `None` for an unknown loss.
///
/// ```
/// assert_eq!(downhill::loss::parameters("HuberLoss"), Some(&["reduction", "delta"][..]));
/// ```
pub fn parameters(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "MSELoss" | "L1Loss" | "SoftMarginLoss" => &["reduction"],
        "SmoothL1Loss" => &["reduction", "beta"],
        "HuberLoss" => &["reduction", "delta"],
        "BCELoss" | "MultiLabelSoftMarginLoss" => &["reduction", "weight"],
        "BCEWithLogitsLoss" => &["reduction", "weight", "pos_weight"],
        // target_kind ("indices" or "probabilities") records what the target
        // holds in the reference files; the target passed decides.
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
        _ => return None,
    })
}

/// Reads a loss's parameters; `null` counts as not given.
struct Params<'a> {
    owner: &'a str,
    map: Map<String, Value>,
}

impl Params<'_> {
    fn name(&self, key: &str) -> String {
        format!("{}.{key}", self.owner)
    }
    fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }
    fn num(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            Some(v) => v
                .as_f64()
                .ok_or_else(|| invalid(self.name(key), format!("must be a number, got {v}"))),
            None => Ok(default),
        }
    }
    fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            Some(v) => v
                .as_bool()
                .ok_or_else(|| invalid(self.name(key), format!("must be true or false, got {v}"))),
            None => Ok(default),
        }
    }
    /// A weight vector: a non-empty list of finite numbers ≥ 0 (or a single number).
    fn weight(&self, key: &str) -> Result<Option<Tensor>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let rule = "must be a list of numbers ≥ 0";
        let items: Vec<Value> = match v {
            Value::Array(a) if !a.is_empty() => a.clone(),
            Value::Number(_) => vec![v.clone()],
            _ => return Err(invalid(self.name(key), format!("{rule}, got {v}"))),
        };
        let w = items
            .iter()
            .map(|x| match x.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 => Ok(f),
                _ => Err(invalid(self.name(key), format!("{rule}, got {v}"))),
            })
            .collect::<Result<Vec<f64>>>()?;
        let n = w.len();
        Ok(Some(Tensor::from_vec(w, &[n])))
    }
    fn reduction(&self) -> Result<Reduction> {
        let batchmean = self.owner == "KLDivLoss";
        let options = if batchmean {
            "none, mean, sum, batchmean"
        } else {
            "none, mean, sum"
        };
        let Some(v) = self.get("reduction") else {
            return Ok(Reduction::Mean);
        };
        match v.as_str() {
            Some("none") => Ok(Reduction::None),
            Some("mean") => Ok(Reduction::Mean),
            Some("sum") => Ok(Reduction::Sum),
            Some("batchmean") if batchmean => Ok(Reduction::BatchMean),
            _ => Err(invalid(
                self.name("reduction"),
                format!("must be one of {options}, got {v}"),
            )),
        }
    }
    /// PyTorch's `ignore_index`: an integer, negative for none (default -100).
    fn ignore_index(&self) -> Result<Option<usize>> {
        match self.get("ignore_index") {
            None => Ok(None),
            Some(v) => match v.as_i64() {
                Some(i) if i < 0 => Ok(None),
                Some(i) => Ok(Some(i as usize)),
                None => Err(invalid(
                    self.name("ignore_index"),
                    format!("must be a whole number (negative for none), got {v}"),
                )),
            },
        }
    }
}

/// Builds a loss from its PyTorch name (one of [`NAMES`]) and parameters as
/// JSON (PyTorch's names: `reduction`, `weight`, `ignore_index`,
/// `label_smoothing`, `beta`, `delta`, `pos_weight`, `margin`, `p`, …).
/// Weights are built in f64 and converted to the input's dtype when used.
///
/// # Errors
///
/// `InvalidArgument` naming `Loss.key` and the rule on an unknown loss or
/// parameter, a value of the wrong type, or one PyTorch refuses:
/// `reduction` not none/mean/sum (batchmean: KLDivLoss only),
/// `label_smoothing` outside [0, 1], HuberLoss `delta` ≤ 0, SmoothL1Loss
/// `beta` < 0, MultiMarginLoss `p` not 1 or 2, TripletMarginLoss `margin` ≤ 0;
/// and the ones that only make sense one way: weights < 0, `eps` < 0
/// (GaussianNLLLoss: ≤ 0, it clamps the variance), TripletMarginLoss `p` ≤ 0.
///
/// ```
/// use downhill::loss::{from_config, Target};
/// use downhill::Tensor;
/// let l = from_config("MSELoss", &serde_json::json!({"reduction": "sum"})).unwrap();
/// let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]);
/// let y = Tensor::from_vec(vec![0.0f64, 0.0], &[2]);
/// assert_eq!(l.forward(&x, Target::Tensor(&y), &[]).item(), 5.0);
/// let e = from_config("CrossEntropyLoss", &serde_json::json!({"label_smoothing": 2})).err().unwrap();
/// assert_eq!(e.to_string(), "CrossEntropyLoss.label_smoothing: must be in [0, 1], got 2");
/// ```
pub fn from_config(name: &str, p: &Value) -> Result<Box<dyn Loss>> {
    let Some(known) = parameters(name) else {
        return Err(invalid(
            name,
            format!("unknown loss; expected one of {}", NAMES.join(", ")),
        ));
    };
    let map = match p {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(invalid(name, "parameters must be a JSON object")),
    };
    if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(invalid(
            format!("{name}.{k}"),
            format!("unknown parameter; {name} takes {known:?}"),
        ));
    }
    let p = Params { owner: name, map };
    let reduction = p.reduction()?;
    let n = |key: &str| p.name(key);
    Ok(match name {
        "MSELoss" => Box::new(MseLoss { reduction }),
        "L1Loss" => Box::new(L1Loss { reduction }),
        "SmoothL1Loss" => Box::new(SmoothL1Loss {
            reduction,
            beta: at_least(&n("beta"), p.num("beta", 1.0)?, 0.0)?,
        }),
        "HuberLoss" => Box::new(HuberLoss {
            reduction,
            delta: above(&n("delta"), p.num("delta", 1.0)?, 0.0)?,
        }),
        "BCELoss" => Box::new(BceLoss {
            reduction,
            weight: p.weight("weight")?,
        }),
        "BCEWithLogitsLoss" => Box::new(BceWithLogitsLoss {
            reduction,
            weight: p.weight("weight")?,
            pos_weight: p.weight("pos_weight")?,
        }),
        "CrossEntropyLoss" => {
            if let Some(v) = p.get("target_kind") {
                if !matches!(v.as_str(), Some("indices" | "probabilities")) {
                    return Err(invalid(
                        n("target_kind"),
                        format!("must be indices or probabilities, got {v}"),
                    ));
                }
            }
            let e = p.num("label_smoothing", 0.0)?;
            Box::new(CrossEntropyLoss {
                reduction,
                weight: p.weight("weight")?,
                ignore_index: p.ignore_index()?,
                label_smoothing: within(
                    &n("label_smoothing"),
                    e,
                    "[0, 1]",
                    (0.0..=1.0).contains(&e),
                )?,
            })
        }
        "NLLLoss" => Box::new(NllLoss {
            reduction,
            weight: p.weight("weight")?,
            ignore_index: p.ignore_index()?,
        }),
        "KLDivLoss" => Box::new(KlDivLoss {
            reduction,
            log_target: p.flag("log_target", false)?,
        }),
        "PoissonNLLLoss" => Box::new(PoissonNllLoss {
            reduction,
            log_input: p.flag("log_input", true)?,
            full: p.flag("full", false)?,
            eps: at_least(&n("eps"), p.num("eps", 1e-8)?, 0.0)?,
        }),
        "GaussianNLLLoss" => Box::new(GaussianNllLoss {
            reduction,
            full: p.flag("full", false)?,
            eps: above(&n("eps"), p.num("eps", 1e-6)?, 0.0)?,
        }),
        "MultiMarginLoss" => {
            let pv = p.num("p", 1.0)?;
            if pv != 1.0 && pv != 2.0 {
                return Err(invalid(n("p"), format!("must be 1 or 2, got {pv}")));
            }
            Box::new(MultiMarginLoss {
                reduction,
                p: pv as u32,
                margin: finite(&n("margin"), p.num("margin", 1.0)?)?,
                weight: p.weight("weight")?,
            })
        }
        "SoftMarginLoss" => Box::new(SoftMarginLoss { reduction }),
        "MultiLabelSoftMarginLoss" => Box::new(MultiLabelSoftMarginLoss {
            reduction,
            weight: p.weight("weight")?,
        }),
        "MarginRankingLoss" => Box::new(MarginRankingLoss {
            reduction,
            margin: finite(&n("margin"), p.num("margin", 0.0)?)?,
        }),
        "CosineEmbeddingLoss" => Box::new(CosineEmbeddingLoss {
            reduction,
            margin: finite(&n("margin"), p.num("margin", 0.0)?)?,
        }),
        "TripletMarginLoss" => Box::new(TripletMarginLoss {
            reduction,
            margin: above(&n("margin"), p.num("margin", 1.0)?, 0.0)?,
            p: above(&n("p"), p.num("p", 2.0)?, 0.0)?,
            eps: at_least(&n("eps"), p.num("eps", 1e-6)?, 0.0)?,
            swap: p.flag("swap", false)?,
        }),
        _ => unreachable!("every name in NAMES has a parameter list"),
    })
}

/// Building the loss a saved model description names lives here, beside
/// [`from_config`], so that `data` (which defines [`ModelSpec`]) does not
/// depend on `loss` (which uses `data`'s targets).
///
/// [`ModelSpec`]: crate::data::ModelSpec
impl crate::data::ModelSpec {
    /// The loss the description names, with its options, for the MLP's logits
    /// (`NLLLoss` gets a log-softmax in front: [`super::LogSoftmaxThen`]).
    ///
    /// # Errors
    ///
    /// [`crate::Error::InvalidArgument`] named `loss` if it does not fit the task,
    /// or as [`from_config`] for bad options.
    pub fn build_loss(&self) -> Result<Box<dyn Loss>> {
        let classification_losses = ["CrossEntropyLoss", "MultiMarginLoss", "NLLLoss"];
        let is_class = classification_losses.contains(&self.loss.as_str());
        if is_class != (self.task == crate::data::Task::Classification) {
            return Err(crate::Error::InvalidArgument {
                name: "loss".into(),
                message: format!(
                    "{} does not fit a {} target; use {}",
                    self.loss,
                    self.task,
                    crate::data::default_loss(self.task)
                ),
            });
        }
        let loss = from_config(&self.loss, &self.loss_options)?;
        // The MLP emits logits; NLLLoss takes log-probabilities.
        Ok(if self.loss == "NLLLoss" {
            Box::new(super::LogSoftmaxThen::new(loss))
        } else {
            loss
        })
    }
}
