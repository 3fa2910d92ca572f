//! Learning-rate schedules: every scheduler of `torch.optim.lr_scheduler`,
//! step for step (the chainable forms PyTorch uses, so the numbers agree to
//! the last bits), driving any optimizer through [`LrTarget`].
//!
//! ```
//! use downhill::optim::{Optimizer, Sgd};
//! use downhill::schedule::{LrScheduler, StepLR};
//! use downhill::Tensor;
//! let w = Tensor::zeros(&[2]).requires_grad_(true);
//! let mut opt = Sgd::default().lr(0.1).build(vec![w]).unwrap();
//! let mut sched = StepLR::new(&mut opt, 2, 0.5);
//! let mut lrs = vec![];
//! for _ in 0..4 {
//!     // ... an epoch of opt.step(...) ...
//!     sched.step(&mut opt);
//!     lrs.push(sched.last_lr()[0]);
//! }
//! assert_eq!(lrs, vec![0.1, 0.05, 0.05, 0.025]);
//! ```

mod compose;
mod cosine;
mod cyclic;
mod decay;
mod plateau;

pub use crate::optim::LrTarget;
pub use compose::{ChainedScheduler, SequentialLR};
pub use cosine::{CosineAnnealingLR, CosineAnnealingWarmRestarts};
pub use cyclic::{AnnealStrategy, CyclicLR, CyclicMode, OneCycleLR};
pub use decay::{
    ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiStepLR, MultiplicativeLR, PolynomialLR,
    StepLR,
};
pub use plateau::{PlateauMode, ReduceLROnPlateau, ThresholdMode};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A learning-rate schedule: call [`LrScheduler::step`] once per epoch (or
/// per batch for the cyclic ones), after the optimizer's steps.
pub trait LrScheduler: Send {
    /// Advances one step and sets the optimizer's learning rates (and
    /// momenta, for the cycling schedules).
    fn step(&mut self, opt: &mut dyn LrTarget);
    /// The learning rates set by the last step, one per group.
    fn last_lr(&self) -> Vec<f64>;
    /// Steps taken (0 right after construction).
    fn last_epoch(&self) -> i64;
    /// Counters and settings as plain data.
    fn state_dict(&self) -> serde_json::Value;
    /// Restores [`LrScheduler::state_dict`].
    ///
    /// **Errors** if the state is malformed.
    fn load_state_dict(&mut self, state: &serde_json::Value) -> Result<()>;
    /// Jumps to `epoch` using the closed form where there is one (what
    /// PyTorch's `step(epoch)` does; SequentialLR uses it at milestones).
    fn step_to(&mut self, opt: &mut dyn LrTarget, epoch: i64);
    /// The base learning rates (PyTorch's `initial_lr`).
    fn base_lrs(&self) -> Vec<f64>;
    /// Replaces the base learning rates and the step counter (composition).
    fn reset(&mut self, base_lrs: Vec<f64>, last_epoch: i64);
}

/// The counters every chainable schedule keeps.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Base {
    pub(crate) base_lrs: Vec<f64>,
    pub(crate) last_epoch: i64,
    pub(crate) last_lr: Vec<f64>,
}

impl Base {
    pub(crate) fn new(opt: &dyn LrTarget) -> Base {
        let lrs: Vec<f64> = (0..opt.num_groups()).map(|g| opt.lr(g)).collect();
        Base {
            base_lrs: lrs.clone(),
            last_epoch: -1,
            last_lr: lrs,
        }
    }
}

/// What a schedule computes; the shared stepping lives in the blanket impl.
pub(crate) trait Chainable: Send + Serialize + serde::de::DeserializeOwned {
    fn base(&self) -> &Base;
    fn base_mut(&mut self) -> &mut Base;
    /// The learning rates for the new `last_epoch`, from the current ones.
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64>;
    /// The closed form at `last_epoch`, if the schedule has one.
    fn closed_form(&self) -> Option<Vec<f64>> {
        None
    }
    /// PyTorch's `_initial_step` at construction.
    fn initial_step(mut self, opt: &mut dyn LrTarget) -> Self
    where
        Self: Sized,
    {
        self.step(opt);
        self
    }
}

pub(crate) fn current_lrs(opt: &dyn LrTarget) -> Vec<f64> {
    (0..opt.num_groups()).map(|g| opt.lr(g)).collect()
}

fn set_lrs(opt: &mut dyn LrTarget, lrs: &[f64]) {
    for (g, &lr) in lrs.iter().enumerate() {
        opt.set_lr(g, lr);
    }
}

impl<C: Chainable> LrScheduler for C {
    fn step(&mut self, opt: &mut dyn LrTarget) {
        self.base_mut().last_epoch += 1;
        let lrs = self.get_lr(opt);
        set_lrs(opt, &lrs);
        self.base_mut().last_lr = lrs;
    }
    fn last_lr(&self) -> Vec<f64> {
        self.base().last_lr.clone()
    }
    fn last_epoch(&self) -> i64 {
        self.base().last_epoch
    }
    fn state_dict(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("schedules serialize")
    }
    fn load_state_dict(&mut self, state: &serde_json::Value) -> Result<()> {
        *self = serde_json::from_value(state.clone()).map_err(|e| Error::InvalidArgument {
            name: "schedule state".into(),
            message: e.to_string(),
        })?;
        Ok(())
    }
    fn step_to(&mut self, opt: &mut dyn LrTarget, epoch: i64) {
        self.base_mut().last_epoch = epoch;
        let lrs = match self.closed_form() {
            Some(l) => l,
            None => self.get_lr(opt),
        };
        set_lrs(opt, &lrs);
        self.base_mut().last_lr = lrs;
    }
    fn base_lrs(&self) -> Vec<f64> {
        self.base().base_lrs.clone()
    }
    fn reset(&mut self, base_lrs: Vec<f64>, last_epoch: i64) {
        let b = self.base_mut();
        b.base_lrs = base_lrs;
        b.last_epoch = last_epoch;
    }
}

/// A plain [`LrTarget`]: learning rates and momenta for schedules used on
/// their own (plotting a schedule, driving something that is not an optimizer).
///
/// ```
/// use downhill::schedule::{ExponentialLR, LrScheduler, Lrs};
/// let mut t = Lrs::new(vec![1.0], None);
/// let mut s = ExponentialLR::new(&mut t, 0.5);
/// s.step(&mut t);
/// assert_eq!(t.lrs, vec![0.5]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lrs {
    /// One learning rate per group.
    pub lrs: Vec<f64>,
    /// One momentum per group, if the target has momenta.
    pub momenta: Option<Vec<f64>>,
}

impl Lrs {
    /// A target with these learning rates (and momenta).
    pub fn new(lrs: Vec<f64>, momenta: Option<Vec<f64>>) -> Self {
        Lrs { lrs, momenta }
    }
}

impl LrTarget for Lrs {
    fn num_groups(&self) -> usize {
        self.lrs.len()
    }
    fn lr(&self, g: usize) -> f64 {
        self.lrs[g]
    }
    fn set_lr(&mut self, g: usize, lr: f64) {
        self.lrs[g] = lr;
    }
    fn momentum(&self, g: usize) -> Option<f64> {
        self.momenta.as_ref().map(|m| m[g])
    }
    fn set_momentum(&mut self, g: usize, m: f64) {
        if let Some(v) = self.momenta.as_mut() {
            v[g] = m;
        }
    }
}

/// Builds a schedule from its PyTorch name and parameters as JSON
/// (`{"step_size": 3, "gamma": 0.5}`), PyTorch's defaults for the rest.
/// Closure schedules (LambdaLR, MultiplicativeLR) and ReduceLROnPlateau
/// (which needs a metric) are built directly instead. SequentialLR takes
/// `{"schedulers": [[name, params], …], "milestones": [...]}`.
///
/// **Errors** on an unknown name or an invalid parameter.
///
/// ```
/// use downhill::schedule::{from_config, Lrs};
/// let mut t = Lrs::new(vec![0.1], None);
/// let s = from_config("CosineAnnealingLR", &serde_json::json!({"T_max": 10}), &mut t).unwrap();
/// assert_eq!(s.last_lr(), vec![0.1]);
/// ```
pub fn from_config(
    name: &str,
    p: &serde_json::Value,
    opt: &mut dyn LrTarget,
) -> Result<Box<dyn LrScheduler>> {
    let bad = |key: &str, m: &str| Error::InvalidArgument {
        name: format!("{name}.{key}"),
        message: m.to_string(),
    };
    let f = |key: &str, default: Option<f64>| -> Result<f64> {
        match p.get(key) {
            Some(v) => v.as_f64().ok_or_else(|| bad(key, "must be a number")),
            None => default.ok_or_else(|| bad(key, "is required")),
        }
    };
    let u = |key: &str, default: Option<u64>| -> Result<usize> {
        match p.get(key) {
            Some(v) => v
                .as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| bad(key, "must be a whole number ≥ 0")),
            None => default
                .map(|x| x as usize)
                .ok_or_else(|| bad(key, "is required")),
        }
    };
    if let Some(obj) = p.as_object() {
        let known: &[&str] = match name {
            "StepLR" => &["step_size", "gamma"],
            "MultiStepLR" => &["milestones", "gamma"],
            "ConstantLR" => &["factor", "total_iters"],
            "LinearLR" => &["start_factor", "end_factor", "total_iters"],
            "ExponentialLR" => &["gamma"],
            "PolynomialLR" => &["total_iters", "power"],
            "CosineAnnealingLR" => &["T_max", "eta_min"],
            "CosineAnnealingWarmRestarts" => &["T_0", "T_mult", "eta_min"],
            "CyclicLR" => &[
                "base_lr",
                "max_lr",
                "step_size_up",
                "step_size_down",
                "mode",
                "gamma",
                "scale_mode",
                "cycle_momentum",
                "base_momentum",
                "max_momentum",
            ],
            "OneCycleLR" => &[
                "max_lr",
                "total_steps",
                "epochs",
                "steps_per_epoch",
                "pct_start",
                "anneal_strategy",
                "cycle_momentum",
                "base_momentum",
                "max_momentum",
                "div_factor",
                "final_div_factor",
                "three_phase",
            ],
            "SequentialLR" => &["schedulers", "milestones"],
            "ChainedScheduler" => &["schedulers"],
            _ => &[],
        };
        if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
            if !known.is_empty() {
                return Err(bad(
                    k,
                    &format!("unknown parameter; {name} takes {known:?}"),
                ));
            }
        }
    }
    let b = |key: &str, default: bool| -> Result<bool> {
        match p.get(key) {
            Some(v) => v.as_bool().ok_or_else(|| bad(key, "must be true or false")),
            None => Ok(default),
        }
    };
    Ok(match name {
        "StepLR" => Box::new(StepLR::new(opt, u("step_size", None)?, f("gamma", Some(0.1))?)),
        "MultiStepLR" => {
            let m: Vec<usize> = serde_json::from_value(p.get("milestones").cloned().unwrap_or_default()).map_err(|e| bad("milestones", &e.to_string()))?;
            Box::new(MultiStepLR::new(opt, m, f("gamma", Some(0.1))?))
        }
        "ConstantLR" => Box::new(ConstantLR::new(opt, f("factor", Some(1.0 / 3.0))?, u("total_iters", Some(5))?)),
        "LinearLR" => Box::new(LinearLR::new(opt, f("start_factor", Some(1.0 / 3.0))?, f("end_factor", Some(1.0))?, u("total_iters", Some(5))?)),
        "ExponentialLR" => Box::new(ExponentialLR::new(opt, f("gamma", None)?)),
        "PolynomialLR" => Box::new(PolynomialLR::new(opt, u("total_iters", Some(5))?, f("power", Some(1.0))?)),
        "CosineAnnealingLR" => Box::new(CosineAnnealingLR::new(opt, u("T_max", None)?, f("eta_min", Some(0.0))?)),
        "CosineAnnealingWarmRestarts" => Box::new(CosineAnnealingWarmRestarts::new(opt, u("T_0", None)?, u("T_mult", Some(1))?, f("eta_min", Some(0.0))?)),
        "CyclicLR" => {
            let mode = match p.get("mode").and_then(|v| v.as_str()).unwrap_or("triangular") {
                "triangular" => CyclicMode::Triangular,
                "triangular2" => CyclicMode::Triangular2,
                "exp_range" => CyclicMode::ExpRange { gamma: f("gamma", Some(1.0))? },
                other => return Err(bad("mode", &format!("{other:?} is not triangular, triangular2 or exp_range"))),
            };
            let down = match p.get("step_size_down") {
                Some(serde_json::Value::Null) | None => None,
                Some(_) => Some(f("step_size_down", None)?),
            };
            Box::new(
                CyclicLR::new(opt, f("base_lr", None)?, f("max_lr", None)?, f("step_size_up", Some(2000.0))?, down, mode)
                    .cycle_momentum(opt, b("cycle_momentum", true)?, f("base_momentum", Some(0.8))?, f("max_momentum", Some(0.9))?),
            )
        }
        "OneCycleLR" => {
            let total = match p.get("total_steps") {
                Some(serde_json::Value::Null) | None => u("epochs", None)? * u("steps_per_epoch", None)?,
                Some(_) => u("total_steps", None)?,
            };
            let anneal = match p.get("anneal_strategy").and_then(|v| v.as_str()).unwrap_or("cos") {
                "cos" => AnnealStrategy::Cos,
                "linear" => AnnealStrategy::Linear,
                other => return Err(bad("anneal_strategy", &format!("{other:?} is not cos or linear"))),
            };
            let mut c = OneCycleLR::config(f("max_lr", None)?, total);
            c.pct_start = f("pct_start", Some(0.3))?;
            c.anneal_strategy = anneal;
            c.cycle_momentum = b("cycle_momentum", true)?;
            c.base_momentum = f("base_momentum", Some(0.85))?;
            c.max_momentum = f("max_momentum", Some(0.95))?;
            c.div_factor = f("div_factor", Some(25.0))?;
            c.final_div_factor = f("final_div_factor", Some(1e4))?;
            c.three_phase = b("three_phase", false)?;
            Box::new(OneCycleLR::new(opt, c)?)
        }
        "SequentialLR" | "ChainedScheduler" => {
            let list = p.get("schedulers").and_then(|v| v.as_array()).ok_or_else(|| bad("schedulers", "must be a list of [name, params]"))?;
            let mut children = Vec::new();
            for item in list {
                let (Some(n), Some(params)) = (item.get(0).and_then(|v| v.as_str()), item.get(1)) else {
                    return Err(bad("schedulers", "each entry must be [name, params]"));
                };
                children.push(from_config(n, params, opt)?);
            }
            if name == "SequentialLR" {
                let m: Vec<i64> = serde_json::from_value(p.get("milestones").cloned().unwrap_or_default()).map_err(|e| bad("milestones", &e.to_string()))?;
                Box::new(SequentialLR::new(opt, children, m)?)
            } else {
                Box::new(ChainedScheduler::new(opt, children))
            }
        }
        _ => {
            return Err(Error::InvalidArgument {
                name: name.to_string(),
                message: "unknown schedule; expected one of StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, \
                          PolynomialLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, OneCycleLR, \
                          SequentialLR, ChainedScheduler"
                    .into(),
            })
        }
    })
}
