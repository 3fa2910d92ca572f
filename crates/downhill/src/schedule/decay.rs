//! Decaying schedules: step, multi-step, constant, linear, exponential,
//! polynomial, and the closure-driven LambdaLR and MultiplicativeLR.

use serde::{Deserialize, Serialize};

use super::{current_lrs, Base, Chainable, LrScheduler, LrTarget};
use crate::validate::{above, at_least, within};
use crate::{Error, Result};

macro_rules! chainable_base {
    () => {
        fn base(&self) -> &Base {
            &self.base
        }
        fn base_mut(&mut self) -> &mut Base {
            &mut self.base
        }
    };
}

/// Multiplies the learning rate by γ every `step_size` epochs (`StepLR`):
/// lrₜ = lr₀·γ^⌊t/step_size⌋.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StepLR {
    base: Base,
    /// Epochs between decays.
    pub step_size: usize,
    /// Decay factor γ (PyTorch's default 0.1).
    pub gamma: f64,
}

impl StepLR {
    /// A StepLR on `opt`'s current learning rates (taking its first step, as PyTorch does).
    ///
    /// **Panics** if `step_size` is 0.
    pub fn new(opt: &mut dyn LrTarget, step_size: usize, gamma: f64) -> Self {
        assert!(step_size > 0, "StepLR: step_size must be positive");
        StepLR {
            base: Base::new(opt),
            step_size,
            gamma,
        }
        .initial_step(opt)
    }

    /// PyTorch's rules plus what keeps the arithmetic finite: `step_size` > 0, γ > 0.
    pub(crate) fn check(step_size: usize, gamma: f64) -> Result<()> {
        if step_size == 0 {
            return Err(crate::validate::invalid(
                "StepLR.step_size",
                "must be a whole number ≥ 1, got 0",
            ));
        }
        above("StepLR.gamma", gamma, 0.0).map(drop)
    }
}

impl Chainable for StepLR {
    chainable_base!();
    fn validate(&self) -> Result<()> {
        Self::check(self.step_size, self.gamma)
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let e = self.base.last_epoch;
        let lrs = current_lrs(opt);
        if e == 0 || e % self.step_size as i64 != 0 {
            lrs
        } else {
            lrs.iter().map(|lr| lr * self.gamma).collect()
        }
    }
    fn closed_form(&self) -> Option<Vec<f64>> {
        let k = self.base.last_epoch.div_euclid(self.step_size as i64) as i32;
        Some(
            self.base
                .base_lrs
                .iter()
                .map(|b| b * self.gamma.powi(k))
                .collect(),
        )
    }
}

/// Multiplies the learning rate by γ at each milestone (`MultiStepLR`):
/// lrₜ = lr₀·γ^(number of milestones ≤ t).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MultiStepLR {
    base: Base,
    /// Epochs at which to decay (repeats decay several times).
    pub milestones: Vec<usize>,
    /// Decay factor γ (default 0.1).
    pub gamma: f64,
}

impl MultiStepLR {
    /// A MultiStepLR on `opt`.
    pub fn new(opt: &mut dyn LrTarget, mut milestones: Vec<usize>, gamma: f64) -> Self {
        milestones.sort_unstable();
        MultiStepLR {
            base: Base::new(opt),
            milestones,
            gamma,
        }
        .initial_step(opt)
    }

    /// γ > 0.
    pub(crate) fn check(gamma: f64) -> Result<()> {
        above("MultiStepLR.gamma", gamma, 0.0).map(drop)
    }
}

impl Chainable for MultiStepLR {
    chainable_base!();
    fn validate(&self) -> Result<()> {
        Self::check(self.gamma)
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let e = self.base.last_epoch;
        let hits = self.milestones.iter().filter(|&&m| m as i64 == e).count() as i32;
        let lrs = current_lrs(opt);
        if hits == 0 {
            lrs
        } else {
            lrs.iter().map(|lr| lr * self.gamma.powi(hits)).collect()
        }
    }
    fn closed_form(&self) -> Option<Vec<f64>> {
        let k = self
            .milestones
            .iter()
            .filter(|&&m| m as i64 <= self.base.last_epoch)
            .count() as i32;
        Some(
            self.base
                .base_lrs
                .iter()
                .map(|b| b * self.gamma.powi(k))
                .collect(),
        )
    }
}

/// Scales the learning rate by `factor` until `total_iters` (`ConstantLR`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConstantLR {
    base: Base,
    /// Factor in (0, 1] (default 1/3).
    pub factor: f64,
    /// Epochs it lasts (default 5).
    pub total_iters: usize,
}

impl ConstantLR {
    /// A ConstantLR on `opt`.
    ///
    /// **Panics** if `factor` is not in (0, 1].
    pub fn new(opt: &mut dyn LrTarget, factor: f64, total_iters: usize) -> Self {
        assert!(
            factor > 0.0 && factor <= 1.0,
            "ConstantLR: factor must be in (0, 1], got {factor}"
        );
        ConstantLR {
            base: Base::new(opt),
            factor,
            total_iters,
        }
        .initial_step(opt)
    }

    /// PyTorch's rule 0 ≤ factor ≤ 1, without 0 (PyTorch divides by it at `total_iters`).
    pub(crate) fn check(factor: f64) -> Result<()> {
        within(
            "ConstantLR.factor",
            factor,
            "(0, 1]",
            factor > 0.0 && factor <= 1.0,
        )
        .map(drop)
    }
}

impl Chainable for ConstantLR {
    chainable_base!();
    fn validate(&self) -> Result<()> {
        Self::check(self.factor)
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let e = self.base.last_epoch;
        let lrs = current_lrs(opt);
        if e == 0 {
            lrs.iter().map(|lr| lr * self.factor).collect()
        } else if e != self.total_iters as i64 {
            lrs
        } else {
            lrs.iter().map(|lr| lr * (1.0 / self.factor)).collect()
        }
    }
    fn closed_form(&self) -> Option<Vec<f64>> {
        let done = if self.base.last_epoch >= self.total_iters as i64 {
            1.0
        } else {
            0.0
        };
        Some(
            self.base
                .base_lrs
                .iter()
                .map(|b| b * (self.factor + done * (1.0 - self.factor)))
                .collect(),
        )
    }
}

/// Moves the learning-rate factor linearly from `start_factor` to
/// `end_factor` over `total_iters` epochs (`LinearLR`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LinearLR {
    base: Base,
    /// Starting factor (default 1/3).
    pub start_factor: f64,
    /// Final factor (default 1).
    pub end_factor: f64,
    /// Epochs of the ramp (default 5).
    pub total_iters: usize,
}

impl LinearLR {
    /// A LinearLR on `opt`.
    ///
    /// **Panics** if `start_factor` is not in (0, 1] or `end_factor` not in [0, 1].
    pub fn new(
        opt: &mut dyn LrTarget,
        start_factor: f64,
        end_factor: f64,
        total_iters: usize,
    ) -> Self {
        assert!(
            start_factor > 0.0 && start_factor <= 1.0,
            "LinearLR: start_factor must be in (0, 1], got {start_factor}"
        );
        assert!(
            (0.0..=1.0).contains(&end_factor),
            "LinearLR: end_factor must be in [0, 1], got {end_factor}"
        );
        LinearLR {
            base: Base::new(opt),
            start_factor,
            end_factor,
            total_iters,
        }
        .initial_step(opt)
    }

    /// PyTorch's rules 0 < start_factor ≤ 1, 0 ≤ end_factor ≤ 1, and
    /// `total_iters` > 0 (its closed form divides by it).
    pub(crate) fn check(start_factor: f64, end_factor: f64, total_iters: usize) -> Result<()> {
        let s = start_factor;
        within("LinearLR.start_factor", s, "(0, 1]", s > 0.0 && s <= 1.0)?;
        let e = end_factor;
        within("LinearLR.end_factor", e, "[0, 1]", (0.0..=1.0).contains(&e))?;
        if total_iters == 0 {
            return Err(crate::validate::invalid(
                "LinearLR.total_iters",
                "must be a whole number ≥ 1, got 0",
            ));
        }
        Ok(())
    }
}

impl Chainable for LinearLR {
    chainable_base!();
    fn validate(&self) -> Result<()> {
        Self::check(self.start_factor, self.end_factor, self.total_iters)
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let e = self.base.last_epoch;
        let lrs = current_lrs(opt);
        if e == 0 {
            return lrs.iter().map(|lr| lr * self.start_factor).collect();
        }
        if e > self.total_iters as i64 {
            return lrs;
        }
        let (s, f, n) = (self.start_factor, self.end_factor, self.total_iters as f64);
        let k = 1.0 + (f - s) / (n * s + (e as f64 - 1.0) * (f - s));
        lrs.iter().map(|lr| lr * k).collect()
    }
    fn closed_form(&self) -> Option<Vec<f64>> {
        let (s, f, n) = (self.start_factor, self.end_factor, self.total_iters as f64);
        let t = (self.base.last_epoch as f64).min(n);
        Some(
            self.base
                .base_lrs
                .iter()
                .map(|b| b * (s + (f - s) * t / n))
                .collect(),
        )
    }
}

/// Multiplies the learning rate by γ every epoch (`ExponentialLR`): lrₜ = lr₀γᵗ.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExponentialLR {
    base: Base,
    /// Decay factor γ.
    pub gamma: f64,
}

impl ExponentialLR {
    /// An ExponentialLR on `opt`.
    pub fn new(opt: &mut dyn LrTarget, gamma: f64) -> Self {
        ExponentialLR {
            base: Base::new(opt),
            gamma,
        }
        .initial_step(opt)
    }

    /// γ > 0.
    pub(crate) fn check(gamma: f64) -> Result<()> {
        above("ExponentialLR.gamma", gamma, 0.0).map(drop)
    }
}

impl Chainable for ExponentialLR {
    chainable_base!();
    fn validate(&self) -> Result<()> {
        Self::check(self.gamma)
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let lrs = current_lrs(opt);
        if self.base.last_epoch == 0 {
            lrs
        } else {
            lrs.iter().map(|lr| lr * self.gamma).collect()
        }
    }
    fn closed_form(&self) -> Option<Vec<f64>> {
        Some(
            self.base
                .base_lrs
                .iter()
                .map(|b| b * self.gamma.powf(self.base.last_epoch as f64))
                .collect(),
        )
    }
}

/// Polynomial decay to 0 over `total_iters` (`PolynomialLR`):
/// lrₜ = lr₀(1 − min(t, T)/T)^power.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PolynomialLR {
    base: Base,
    /// T, the epochs of the decay (default 5).
    pub total_iters: usize,
    /// The power (default 1).
    pub power: f64,
}

impl PolynomialLR {
    /// A PolynomialLR on `opt`.
    ///
    /// **Panics** if `total_iters` is 0.
    pub fn new(opt: &mut dyn LrTarget, total_iters: usize, power: f64) -> Self {
        assert!(
            total_iters > 0,
            "PolynomialLR: total_iters must be positive"
        );
        PolynomialLR {
            base: Base::new(opt),
            total_iters,
            power,
        }
        .initial_step(opt)
    }

    /// `total_iters` > 0 (PyTorch divides by it) and power ≥ 0 (a negative
    /// power sends the rate to infinity at `total_iters`).
    pub(crate) fn check(total_iters: usize, power: f64) -> Result<()> {
        if total_iters == 0 {
            return Err(crate::validate::invalid(
                "PolynomialLR.total_iters",
                "must be a whole number ≥ 1, got 0",
            ));
        }
        at_least("PolynomialLR.power", power, 0.0).map(drop)
    }
}

impl Chainable for PolynomialLR {
    chainable_base!();
    fn validate(&self) -> Result<()> {
        Self::check(self.total_iters, self.power)
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let e = self.base.last_epoch;
        let lrs = current_lrs(opt);
        if e == 0 || e > self.total_iters as i64 {
            return lrs;
        }
        let n = self.total_iters as f64;
        let k = ((1.0 - e as f64 / n) / (1.0 - (e as f64 - 1.0) / n)).powf(self.power);
        lrs.iter().map(|lr| lr * k).collect()
    }
    fn closed_form(&self) -> Option<Vec<f64>> {
        let n = self.total_iters as f64;
        let t = (self.base.last_epoch as f64).min(n);
        Some(
            self.base
                .base_lrs
                .iter()
                .map(|b| b * (1.0 - t / n).powf(self.power))
                .collect(),
        )
    }
}

/// A closure of the epoch, one per group (or one for all).
pub type LrLambda = Box<dyn Fn(usize) -> f64 + Send>;

fn lambda_state(base: &Base) -> serde_json::Value {
    serde_json::to_value(base).expect("counters serialize")
}

fn load_lambda_state(base: &mut Base, v: &serde_json::Value) -> Result<()> {
    *base = serde_json::from_value(v.clone()).map_err(|e| Error::InvalidArgument {
        name: "schedule state".into(),
        message: e.to_string(),
    })?;
    Ok(())
}

/// lrₜ = lr₀·λ(t) for a user closure λ (`LambdaLR`). Only the counters are
/// saved by `state_dict` (a closure is code, not data), as in PyTorch.
///
/// ```
/// use downhill::schedule::{LambdaLR, LrScheduler, Lrs};
/// let mut t = Lrs::new(vec![1.0], None);
/// let mut s = LambdaLR::new(&mut t, vec![Box::new(|e| 1.0 / (e as f64 + 1.0))]);
/// s.step(&mut t);
/// assert_eq!(t.lrs, vec![0.5]);
/// ```
pub struct LambdaLR {
    base: Base,
    lambdas: Vec<LrLambda>,
}

impl LambdaLR {
    /// A LambdaLR with one closure per group, or a single one for all groups.
    ///
    /// **Panics** if the number of closures is neither 1 nor the number of groups.
    pub fn new(opt: &mut dyn LrTarget, lambdas: Vec<LrLambda>) -> Self {
        assert!(
            lambdas.len() == 1 || lambdas.len() == opt.num_groups(),
            "LambdaLR: {} closures for {} parameter groups",
            lambdas.len(),
            opt.num_groups()
        );
        let mut s = LambdaLR {
            base: Base::new(opt),
            lambdas,
        };
        s.step(opt);
        s
    }

    fn lambda(&self, g: usize) -> &LrLambda {
        &self.lambdas[if self.lambdas.len() == 1 { 0 } else { g }]
    }
}

impl LrScheduler for LambdaLR {
    fn step(&mut self, opt: &mut dyn LrTarget) {
        self.base.last_epoch += 1;
        let e = self.base.last_epoch;
        self.step_to(opt, e);
    }
    fn last_lr(&self) -> Vec<f64> {
        self.base.last_lr.clone()
    }
    fn last_epoch(&self) -> i64 {
        self.base.last_epoch
    }
    fn state_dict(&self) -> serde_json::Value {
        lambda_state(&self.base)
    }
    fn load_state_dict(&mut self, state: &serde_json::Value) -> Result<()> {
        load_lambda_state(&mut self.base, state)
    }
    fn step_to(&mut self, opt: &mut dyn LrTarget, epoch: i64) {
        self.base.last_epoch = epoch;
        let lrs: Vec<f64> = (0..self.base.base_lrs.len())
            .map(|g| self.base.base_lrs[g] * (self.lambda(g))(epoch.max(0) as usize))
            .collect();
        for (g, &lr) in lrs.iter().enumerate() {
            opt.set_lr(g, lr);
        }
        self.base.last_lr = lrs;
    }
    fn base_lrs(&self) -> Vec<f64> {
        self.base.base_lrs.clone()
    }
    fn reset(&mut self, base_lrs: Vec<f64>, last_epoch: i64) {
        self.base.base_lrs = base_lrs;
        self.base.last_epoch = last_epoch;
    }
}

/// lrₜ = lrₜ₋₁·λ(t) for t > 0 (`MultiplicativeLR`). Saves only its counters.
///
/// ```
/// use downhill::schedule::{MultiplicativeLR, LrScheduler, Lrs};
/// let mut t = Lrs::new(vec![1.0], None);
/// let mut s = MultiplicativeLR::new(&mut t, vec![Box::new(|_| 0.9)]);
/// s.step(&mut t);
/// s.step(&mut t);
/// assert!((t.lrs[0] - 0.81).abs() < 1e-15);
/// ```
pub struct MultiplicativeLR {
    base: Base,
    lambdas: Vec<LrLambda>,
}

impl MultiplicativeLR {
    /// A MultiplicativeLR with one closure per group, or one for all.
    ///
    /// **Panics** if the number of closures is neither 1 nor the number of groups.
    pub fn new(opt: &mut dyn LrTarget, lambdas: Vec<LrLambda>) -> Self {
        assert!(
            lambdas.len() == 1 || lambdas.len() == opt.num_groups(),
            "MultiplicativeLR: {} closures for {} parameter groups",
            lambdas.len(),
            opt.num_groups()
        );
        let mut s = MultiplicativeLR {
            base: Base::new(opt),
            lambdas,
        };
        s.step(opt);
        s
    }
}

impl LrScheduler for MultiplicativeLR {
    fn step(&mut self, opt: &mut dyn LrTarget) {
        self.base.last_epoch += 1;
        let e = self.base.last_epoch;
        let lrs: Vec<f64> = current_lrs(opt)
            .iter()
            .enumerate()
            .map(|(g, &lr)| {
                if e > 0 {
                    lr * (self.lambdas[if self.lambdas.len() == 1 { 0 } else { g }])(e as usize)
                } else {
                    lr
                }
            })
            .collect();
        for (g, &lr) in lrs.iter().enumerate() {
            opt.set_lr(g, lr);
        }
        self.base.last_lr = lrs;
    }
    fn last_lr(&self) -> Vec<f64> {
        self.base.last_lr.clone()
    }
    fn last_epoch(&self) -> i64 {
        self.base.last_epoch
    }
    fn state_dict(&self) -> serde_json::Value {
        lambda_state(&self.base)
    }
    fn load_state_dict(&mut self, state: &serde_json::Value) -> Result<()> {
        load_lambda_state(&mut self.base, state)
    }
    fn step_to(&mut self, opt: &mut dyn LrTarget, epoch: i64) {
        self.base.last_epoch = epoch - 1;
        self.step(opt);
    }
    fn base_lrs(&self) -> Vec<f64> {
        self.base.base_lrs.clone()
    }
    fn reset(&mut self, base_lrs: Vec<f64>, last_epoch: i64) {
        self.base.base_lrs = base_lrs;
        self.base.last_epoch = last_epoch;
    }
}
