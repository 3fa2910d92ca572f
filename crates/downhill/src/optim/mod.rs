//! Optimizers: the update rules that turn gradients into parameter steps,
//! numerically identical to `torch.optim` (every file of the PyTorch
//! reference trajectories is a test), and gradient clipping.
//!
//! Every optimizer is a config struct with PyTorch's hyperparameter names and
//! defaults; `build(params)` turns it into an [`Optimizer`] that owns its
//! parameter groups and state:
//!
//! ```
//! use downhill::optim::{Adam, Optimizer};
//! use downhill::Tensor;
//!
//! let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
//! let mut opt = Adam::default().lr(0.1).build(vec![w.clone()]).unwrap();
//! for _ in 0..100 {
//!     let grads = w.square().sum().backward();   // minimize Σ w²
//!     opt.step(&grads);
//! }
//! assert!(w.to_vec_f64().iter().all(|v| v.abs() < 0.05));
//! ```

/// `LrTarget` for an optimizer that wraps another in its `base` field (SAM,
/// Lookahead): learning rates and momenta are the base optimizer's.
macro_rules! lr_target_of_base {
    ($wrapper:ty) => {
        impl LrTarget for $wrapper {
            fn num_groups(&self) -> usize {
                self.base.num_groups()
            }
            fn lr(&self, g: usize) -> f64 {
                self.base.lr(g)
            }
            fn set_lr(&mut self, g: usize, lr: f64) {
                self.base.set_lr(g, lr)
            }
            fn momentum(&self, g: usize) -> Option<f64> {
                self.base.momentum(g)
            }
            fn set_momentum(&mut self, g: usize, m: f64) {
                self.base.set_momentum(g, m)
            }
        }
    };
}

mod adafactor;
mod adam;
mod adaptive;
mod asgd;
mod averaged;
pub mod clip;
mod dadapt;
mod dense;
mod elementwise;
mod hyper;
mod lbfgs;
mod line_search;
mod lookahead;
mod muon;
mod prodigy;
mod rules;
mod sam;
mod schedule_free;
mod sgd;
mod sign;
mod single;
mod state;

pub use adafactor::{Adafactor, AdafactorOptimizer};
pub use adam::{
    Adam, AdamCoefficients, AdamW, Adamax, AdamaxCoefficients, NAdam, NAdamCoefficients, RAdam,
    RAdamCoefficients,
};
pub use adaptive::{
    Adadelta, AdadeltaCoefficients, Adagrad, AdagradCoefficients, RMSprop, RMSpropCoefficients,
};
pub use asgd::{Asgd, AsgdCoefficients};
pub use averaged::{AveragedModel, Averaging};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use dadapt::{DAdaptAdam, DAdaptOptimizer, DAdaptSGD};
pub use elementwise::{Elementwise, ParamGroup, Rule};
pub use hyper::{Hyperparameters, WeightDecay};
pub use lbfgs::{Lbfgs, LbfgsOptimizer, LineSearch};
pub use line_search::BacktrackingLineSearch;
pub use lookahead::{Lookahead, LookaheadOptimizer, PullbackMomentum};
pub use muon::{Muon, MuonOptimizer};
pub use prodigy::{Prodigy, ProdigyOptimizer};
pub use sam::{Sam, SamOptimizer};
pub use schedule_free::{
    AdamWScheduleFree, SGDScheduleFree, ScheduleFreeOptimizer, ScheduleFreeRule,
};
pub use sgd::{GradientDescent, GradientDescentCoefficients, Sgd, SgdCoefficients};
pub use sign::{Lion, LionCoefficients, Rprop, RpropCoefficients};
pub use state::OptimizerState;

use crate::{Error, Gradients, Result, Tensor};

/// The learning rates (and momenta) a schedule drives; every optimizer implements it.
pub trait LrTarget {
    /// Number of parameter groups.
    fn num_groups(&self) -> usize;
    /// Learning rate of group `g`.
    fn lr(&self, g: usize) -> f64;
    /// Sets the learning rate of group `g`.
    fn set_lr(&mut self, g: usize, lr: f64);
    /// The momentum-like hyperparameter cycled by CyclicLR/OneCycleLR (SGD and
    /// RMSprop `momentum`, Adam-family `betas.0`); `None` if there is none.
    fn momentum(&self, g: usize) -> Option<f64>;
    /// Sets it (no-op if there is none).
    fn set_momentum(&mut self, g: usize, m: f64);
}

/// What every optimizer does: update its parameters in place from gradients.
pub trait Optimizer: LrTarget + Send {
    /// The optimizer's PyTorch name (`"Adam"`).
    fn name(&self) -> &'static str;

    /// One update of every parameter that has a gradient in `grads`
    /// (parameters without one are left alone, like PyTorch's `grad is None`).
    fn step(&mut self, grads: &Gradients);

    /// One update for optimizers that re-evaluate the loss (LBFGS, line
    /// searches): `closure` recomputes the loss and its gradients at the
    /// current parameters. Returns the loss at the starting point. For the
    /// others it evaluates once and calls [`Optimizer::step`].
    fn step_with_closure(&mut self, closure: &mut dyn FnMut() -> (f64, Gradients)) -> f64 {
        let (loss, grads) = closure();
        self.step(&grads);
        loss
    }

    /// True if [`Optimizer::step`] cannot be used: the optimizer must
    /// re-evaluate the loss through [`Optimizer::step_with_closure`]
    /// (LBFGS, SAM, and a wrapper around either).
    fn needs_closure(&self) -> bool {
        false
    }

    /// Puts the parameters at the point training steps from. A no-op except
    /// for optimizers whose evaluated weights differ from the training
    /// point (schedule-free: x → y); a no-op when already in train mode.
    fn train(&mut self) {}

    /// Puts the parameters at the weights to evaluate and save
    /// (schedule-free: y → x, the average). The trainer calls it before
    /// validation, best weights and checkpoints, and [`Optimizer::train`]
    /// after; a no-op for most optimizers and when already in eval mode.
    fn eval(&mut self) {}

    /// Every parameter it updates, group by group.
    fn params(&self) -> Vec<Tensor>;

    /// The state as named tensors (moments in the parameters' dtype) and a
    /// small document (hyperparameters, step counts): see [`OptimizerState`]
    /// for the key scheme. The tensors share memory with the optimizer, as
    /// PyTorch's do; a run resumed from it continues bit-identically.
    fn state_dict(&self) -> OptimizerState;

    /// Restores what [`Optimizer::state_dict`] saved, copying the tensors.
    ///
    /// **Errors** if the state is malformed or does not fit the parameters.
    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()>;

    /// Restores the JSON state of checkpoint format 1 (downhill's
    /// `state_dict` before the state became tensors), so old checkpoints
    /// resume.
    ///
    /// **Errors** if the state is malformed or does not fit the parameters.
    fn load_state_dict_v1(&mut self, state: &serde_json::Value) -> Result<()>;
}

/// `Err(InvalidArgument)` unless `ok`: the hyperparameter checks of every config.
pub(crate) fn check(ok: bool, name: &str, message: impl Into<String>) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name: name.to_string(),
            message: message.into(),
        })
    }
}

/// Every optimizer [`from_config`] builds, by PyTorch's name (the
/// lookup ignores case, `_` and `-`).
pub const NAMES: &[&str] = &[
    "GradientDescent",
    "SGD",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "ASGD",
    "Rprop",
    "Lion",
    "LBFGS",
    "Adafactor",
    "Muon",
    "AdamWScheduleFree",
    "SGDScheduleFree",
    "Prodigy",
    "DAdaptAdam",
    "DAdaptSGD",
];

/// The wrappers [`from_config`] puts around any optimizer, by the reserved
/// hyperparameter key that configures each (innermost first): SAM, then
/// Lookahead.
pub const WRAPPERS: &[&str] = &["sam", "lookahead"];

/// An optimizer's hyperparameters with PyTorch's defaults, as JSON (the keys
/// [`from_config`] accepts); `None` for an unknown name.
///
/// ```
/// let d = downhill::optim::defaults("SGD").unwrap();
/// assert_eq!(d["momentum"], 0.0);
/// ```
pub fn defaults(name: &str) -> Option<serde_json::Value> {
    fn of<C: Default + serde::Serialize>() -> serde_json::Value {
        serde_json::to_value(C::default()).expect("configs serialize")
    }
    Some(match canonical(name)? {
        "GradientDescent" => of::<GradientDescent>(),
        "SGD" => of::<Sgd>(),
        "Adam" => of::<Adam>(),
        "AdamW" => of::<AdamW>(),
        "Adamax" => of::<Adamax>(),
        "NAdam" => of::<NAdam>(),
        "RAdam" => of::<RAdam>(),
        "RMSprop" => of::<RMSprop>(),
        "Adagrad" => of::<Adagrad>(),
        "Adadelta" => of::<Adadelta>(),
        "ASGD" => of::<Asgd>(),
        "Rprop" => of::<Rprop>(),
        "Lion" => of::<Lion>(),
        "LBFGS" => of::<Lbfgs>(),
        "Adafactor" => of::<Adafactor>(),
        "AdamWScheduleFree" => of::<AdamWScheduleFree>(),
        "SGDScheduleFree" => of::<SGDScheduleFree>(),
        "Prodigy" => of::<Prodigy>(),
        "DAdaptAdam" => of::<DAdaptAdam>(),
        "DAdaptSGD" => of::<DAdaptSGD>(),
        _ => of::<Muon>(),
    })
}

/// The entry of [`NAMES`] that `name` spells (case, `_` and `-` ignored; `GD`
/// is GradientDescent).
fn canonical(name: &str) -> Option<&'static str> {
    let key = |s: &str| s.to_ascii_lowercase().replace(['_', '-'], "");
    let k = key(name);
    if k == "gd" {
        return Some("GradientDescent");
    }
    NAMES.iter().copied().find(|n| key(n) == k)
}

/// Merges `hyper` over `C`'s defaults (`null` keeps the default), rejecting
/// unknown keys and values of the wrong type (naming the key), then checks
/// PyTorch's rules.
fn parse<C: serde::de::DeserializeOwned + Default + serde::Serialize>(
    name: &str,
    hyper: &serde_json::Value,
) -> Result<C> {
    let bad = |key: String, message: String| Error::InvalidArgument { name: key, message };
    let defaults = serde_json::to_value(C::default()).expect("configs serialize");
    let (Some(known), Some(given)) = (defaults.as_object(), hyper.as_object()) else {
        return Err(bad(
            name.to_string(),
            "hyperparameters must be a JSON object".into(),
        ));
    };
    let mut merged = known.clone();
    // `null` means PyTorch's default (the CLI's `--opt key=None`).
    for (k, v) in given {
        if !known.contains_key(k) {
            let keys: Vec<&String> = known.keys().collect();
            return Err(bad(
                format!("{name}.{k}"),
                format!("unknown hyperparameter; {name} takes {keys:?}"),
            ));
        }
        if v.is_null() {
            continue;
        }
        // Each key alone over the defaults, so a wrong type names its key.
        let mut one = known.clone();
        one.insert(k.clone(), v.clone());
        if let Err(e) = serde_json::from_value::<C>(serde_json::Value::Object(one)) {
            let want = e.to_string();
            let want = want.split(", expected ").nth(1).unwrap_or(&want);
            return Err(bad(k.clone(), format!("expected {}, got {v}", plain(want))));
        }
        merged.insert(k.clone(), v.clone());
    }
    let config: C = serde_json::from_value(serde_json::Value::Object(merged))
        .map_err(|e| bad(name.to_string(), e.to_string()))?;
    let canon = canonical(name).unwrap_or(name);
    rules::check_config(
        canon,
        &serde_json::to_value(&config).expect("configs serialize"),
    )?;
    Ok(config)
}

/// serde's type names in words (`usize` → `a whole number ≥ 0`).
fn plain(serde_expected: &str) -> String {
    let t = serde_expected.trim();
    match t {
        "usize" | "u32" | "u64" => "a whole number ≥ 0".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" => "true or false".into(),
        _ => t
            .replace("tuple of size", "a list of")
            .replace("f64", "number"),
    }
}

/// Builds an optimizer from its PyTorch name (one of [`NAMES`]) and
/// hyperparameters given as JSON (`{"lr": 0.1, "betas": [0.9, 0.99]}`),
/// PyTorch's names and defaults for everything not given. The CLI's
/// `--optimizer NAME --opt key=value` and the reference tests go through here.
///
/// # Errors
///
/// `InvalidArgument` on an unknown optimizer, an unknown hyperparameter,
/// a value of the wrong type (naming the key), or one PyTorch's rules refuse
/// (`Invalid learning rate`, betas outside [0, 1), `nesterov` without
/// momentum, …: see each config's `build`).
///
/// ```
/// use downhill::optim::from_config;
/// use downhill::Tensor;
/// let w = Tensor::zeros(&[3]).requires_grad_(true);
/// let opt = from_config("SGD", &serde_json::json!({"lr": 0.1, "momentum": 0.9}), vec![w]).unwrap();
/// assert_eq!(opt.name(), "SGD");
/// assert!(from_config("Adamm", &serde_json::json!({}), vec![]).is_err());
/// let e = from_config("Adam", &serde_json::json!({"betas": [0.9, 1.0]}), vec![]).err().unwrap();
/// assert_eq!(e.to_string(), "betas: must be two numbers in [0, 1), got [0.9,1.0]");
/// ```
///
/// The reserved keys of [`WRAPPERS`] wrap the optimizer: `"sam": {"rho":
/// 0.05, "adaptive": false, "perturb_eps": 1e-12, "use_gc": false}` ([`Sam`]) and
/// `"lookahead": {"k": 5, "alpha": 0.5, "pullback_momentum": "none"}`
/// ([`Lookahead`]), each key of
/// theirs optional; their errors name `sam.rho`, `lookahead.k`, ….
///
/// ```
/// use downhill::optim::from_config;
/// use downhill::Tensor;
/// let w = Tensor::zeros(&[3]).requires_grad_(true);
/// let hyper = serde_json::json!({"lr": 0.1, "sam": {"rho": 0.1}, "lookahead": {}});
/// assert_eq!(from_config("SGD", &hyper, vec![w.clone()]).unwrap().name(), "Lookahead");
/// let bad = serde_json::json!({"sam": {"rho": -1}});
/// let e = from_config("SGD", &bad, vec![w]).err().unwrap();
/// assert_eq!(e.to_string(), "sam.rho: must be a finite number ≥ 0, got -1.0");
/// ```
pub fn from_config(
    name: &str,
    hyper: &serde_json::Value,
    params: Vec<Tensor>,
) -> Result<Box<dyn Optimizer>> {
    let mut base = hyper.clone();
    let mut wrappers = Vec::new();
    if let Some(obj) = base.as_object_mut() {
        for key in WRAPPERS {
            if let Some(v) = obj.remove(*key) {
                wrappers.push((*key, v));
            }
        }
    }
    let mut opt = from_config_unwrapped(name, &base, params)?;
    for (key, v) in wrappers {
        // `SAM.foo`/`rho` → `sam.foo`/`sam.rho`; `SAM` (not an object) → `sam`.
        let prefix = |e: Error| match e {
            Error::InvalidArgument { name: n, message } => {
                let leaf = n.rsplit('.').next().unwrap_or(&n);
                let name = if leaf == "SAM" || leaf == "Lookahead" {
                    key.to_string()
                } else {
                    format!("{key}.{leaf}")
                };
                Error::InvalidArgument { name, message }
            }
            other => other,
        };
        let v = if v.is_null() {
            serde_json::json!({})
        } else {
            v
        };
        opt = match key {
            "sam" => Box::new(
                parse::<Sam>("SAM", &v)
                    .and_then(|c| c.wrap(opt))
                    .map_err(prefix)?,
            ),
            _ => Box::new(
                parse::<Lookahead>("Lookahead", &v)
                    .and_then(|c| c.wrap(opt))
                    .map_err(prefix)?,
            ),
        };
    }
    Ok(opt)
}

/// [`from_config`] without the wrappers.
fn from_config_unwrapped(
    name: &str,
    hyper: &serde_json::Value,
    params: Vec<Tensor>,
) -> Result<Box<dyn Optimizer>> {
    let Some(canon) = canonical(name) else {
        return Err(Error::InvalidArgument {
            name: name.to_string(),
            message: format!("unknown optimizer; expected one of {}", NAMES.join(", ")),
        });
    };
    Ok(match canon {
        "GradientDescent" => Box::new(parse::<GradientDescent>(name, hyper)?.build(params)?),
        "SGD" => Box::new(parse::<Sgd>(name, hyper)?.build(params)?),
        "Adam" => Box::new(parse::<Adam>(name, hyper)?.build(params)?),
        "AdamW" => Box::new(parse::<AdamW>(name, hyper)?.build(params)?),
        "Adamax" => Box::new(parse::<Adamax>(name, hyper)?.build(params)?),
        "NAdam" => Box::new(parse::<NAdam>(name, hyper)?.build(params)?),
        "RAdam" => Box::new(parse::<RAdam>(name, hyper)?.build(params)?),
        "RMSprop" => Box::new(parse::<RMSprop>(name, hyper)?.build(params)?),
        "Adagrad" => Box::new(parse::<Adagrad>(name, hyper)?.build(params)?),
        "Adadelta" => Box::new(parse::<Adadelta>(name, hyper)?.build(params)?),
        "ASGD" => Box::new(parse::<Asgd>(name, hyper)?.build(params)?),
        "Rprop" => Box::new(parse::<Rprop>(name, hyper)?.build(params)?),
        "Lion" => Box::new(parse::<Lion>(name, hyper)?.build(params)?),
        "LBFGS" => Box::new(parse::<Lbfgs>(name, hyper)?.build(params)?),
        "Adafactor" => Box::new(parse::<Adafactor>(name, hyper)?.build(params)?),
        "AdamWScheduleFree" => Box::new(parse::<AdamWScheduleFree>(name, hyper)?.build(params)?),
        "SGDScheduleFree" => Box::new(parse::<SGDScheduleFree>(name, hyper)?.build(params)?),
        "Prodigy" => Box::new(parse::<Prodigy>(name, hyper)?.build(params)?),
        "DAdaptAdam" => Box::new(parse::<DAdaptAdam>(name, hyper)?.build(params)?),
        "DAdaptSGD" => Box::new(parse::<DAdaptSGD>(name, hyper)?.build(params)?),
        _ => Box::new(parse::<Muon>(name, hyper)?.build(params)?),
    })
}
