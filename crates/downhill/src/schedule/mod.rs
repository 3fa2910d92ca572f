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
mod config;
mod cosine;
mod cyclic;
mod decay;
mod plateau;
mod swalr;

pub use crate::optim::LrTarget;
pub use compose::{ChainedScheduler, SequentialLR};
pub use config::{from_config, parameters, plateau_from_config, NAMES};
pub use cosine::{CosineAnnealingLR, CosineAnnealingWarmRestarts};
pub use cyclic::{AnnealStrategy, CyclicLR, CyclicMode, OneCycleLR};
pub use decay::{
    ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiStepLR, MultiplicativeLR, PolynomialLR,
    StepLR,
};
pub use plateau::{PlateauMode, ReduceLROnPlateau, ThresholdMode};
pub use swalr::SwaLR;

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
    /// Checks the settings against the schedule's rules (a state loaded
    /// from a checkpoint goes through it).
    fn validate(&self) -> Result<()> {
        Ok(())
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
        let loaded: C =
            serde_json::from_value(state.clone()).map_err(|e| Error::InvalidArgument {
                name: "schedule state".into(),
                message: e.to_string(),
            })?;
        loaded.validate()?;
        *self = loaded;
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
