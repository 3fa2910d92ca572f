//! The learning rate of stochastic weight averaging, `torch.optim.swa_utils.SWALR`.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use super::{current_lrs, AnnealStrategy, Base, Chainable, LrTarget};
use crate::validate::{at_least, count};
use crate::Result;

/// Anneals every group's learning rate from where it stands to a constant
/// `swa_lr` over `anneal_epochs` steps, then holds it there
/// (`torch.optim.swa_utils.SWALR`, Izmailov et al., 2018, "Averaging
/// Weights Leads to Wider Optima and Better Generalization").
///
/// With s the steps taken by this schedule (0 at construction), K =
/// `anneal_epochs`, t = clamp(s/max(1, K), 0, 1) and α(t) = t (linear) or
/// (1 − cos πt)/2 (cos):
///
/// lrₛ = α(t)·swa_lr + (1 − α(t))·lr₀,
///
/// where lr₀ is the group's learning rate when this schedule's first step
/// came. As PyTorch does, lr₀ is not stored: each step recovers it from the
/// current rate, lr₀ = (lrₛ₋₁ − α(tₛ₋₁)·swa_lr)/(1 − α(tₛ₋₁)) (swa_lr once
/// α = 1), so the schedule can take over from another one mid-run — SWA's
/// recipe steps the usual schedule up to the averaging's start epoch and
/// SWALR after it, both built on the same optimizer at the start:
///
/// ```
/// use downhill::schedule::{AnnealStrategy, CosineAnnealingLR, LrScheduler, Lrs, SwaLR};
/// let mut opt = Lrs::new(vec![0.1], None);
/// let mut before = CosineAnnealingLR::new(&mut opt, 20, 0.0);
/// let mut swa = SwaLR::new(&mut opt, 0.01, 3, AnnealStrategy::Linear);
/// for epoch in 0..10 {
///     // ... an epoch of optimizer steps ...
///     if epoch > 4 { swa.step(&mut opt) } else { before.step(&mut opt) }
/// }
/// assert!((opt.lrs[0] - 0.01).abs() < 1e-15); // annealed by epoch 7, then held
/// ```
///
/// K = 0 jumps to swa_lr at construction (PyTorch counts the first step as 1).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SwaLR {
    base: Base,
    /// The learning rate annealed to, one per group.
    pub swa_lrs: Vec<f64>,
    /// Steps of the annealing phase (PyTorch's default 10).
    pub anneal_epochs: usize,
    /// The shape of the annealing (PyTorch's default cos).
    pub anneal_strategy: AnnealStrategy,
    /// PyTorch's `_step_count`: steps taken, the construction's included.
    step_count: u64,
}

impl SwaLR {
    /// A SWALR on `opt` annealing every group to `swa_lr`.
    ///
    /// # Panics
    /// If `swa_lr` is negative or not finite.
    pub fn new(
        opt: &mut dyn LrTarget,
        swa_lr: f64,
        anneal_epochs: usize,
        anneal_strategy: AnnealStrategy,
    ) -> Self {
        let swa_lrs = vec![swa_lr; opt.num_groups()];
        Self::per_group(opt, swa_lrs, anneal_epochs, anneal_strategy)
    }

    /// A SWALR on `opt` annealing group g to `swa_lrs[g]`.
    ///
    /// # Panics
    /// If there is not one rate per group, or one is negative or not finite.
    pub fn per_group(
        opt: &mut dyn LrTarget,
        swa_lrs: Vec<f64>,
        anneal_epochs: usize,
        anneal_strategy: AnnealStrategy,
    ) -> Self {
        assert_eq!(
            swa_lrs.len(),
            opt.num_groups(),
            "SWALR: {} swa_lrs for {} groups",
            swa_lrs.len(),
            opt.num_groups()
        );
        if let Err(e) = Self::check(&swa_lrs, anneal_epochs) {
            panic!("SWALR: {e}");
        }
        SwaLR {
            base: Base::new(opt),
            swa_lrs,
            anneal_epochs,
            anneal_strategy,
            step_count: 0,
        }
        .initial_step(opt)
    }

    /// swa_lr ≥ 0 (a learning rate) and `anneal_epochs` ≤ 2⁴⁰.
    pub(crate) fn check(swa_lrs: &[f64], anneal_epochs: usize) -> Result<()> {
        for &lr in swa_lrs {
            at_least("SWALR.swa_lr", lr, 0.0)?;
        }
        count("SWALR.anneal_epochs", anneal_epochs as u64, 0).map(drop)
    }

    /// α(t).
    fn anneal(&self, t: f64) -> f64 {
        match self.anneal_strategy {
            AnnealStrategy::Linear => t,
            AnnealStrategy::Cos => (1.0 - (PI * t).cos()) / 2.0,
        }
    }
}

impl Chainable for SwaLR {
    fn validate(&self) -> Result<()> {
        Self::check(&self.swa_lrs, self.anneal_epochs)
    }
    fn base(&self) -> &Base {
        &self.base
    }
    fn base_mut(&mut self) -> &mut Base {
        &mut self.base
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        // PyTorch's SWALR.get_lr, operation for operation.
        self.step_count += 1;
        let mut step = self.step_count as f64 - 1.0;
        if self.anneal_epochs == 0 {
            step = step.max(1.0);
        }
        let k = self.anneal_epochs.max(1) as f64;
        let prev_alpha = self.anneal(((step - 1.0) / k).clamp(0.0, 1.0));
        let alpha = self.anneal((step / k).clamp(0.0, 1.0));
        current_lrs(opt)
            .iter()
            .zip(&self.swa_lrs)
            .map(|(&lr, &swa)| {
                let prev = if prev_alpha == 1.0 {
                    swa
                } else {
                    (lr - prev_alpha * swa) / (1.0 - prev_alpha)
                };
                swa * alpha + prev * (1.0 - alpha)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{LrScheduler, Lrs};

    #[test]
    fn linear_annealing_reaches_swa_lr_in_k_steps_and_holds_it() {
        let mut t = Lrs::new(vec![0.1, 0.2], None);
        let mut s = SwaLR::new(&mut t, 0.05, 2, AnnealStrategy::Linear);
        assert_eq!(t.lrs, vec![0.1, 0.2]);
        s.step(&mut t);
        assert!((t.lrs[0] - 0.075).abs() < 1e-15 && (t.lrs[1] - 0.125).abs() < 1e-15);
        for _ in 0..3 {
            s.step(&mut t);
            assert_eq!(t.lrs, vec![0.05, 0.05]);
        }
        assert_eq!(s.last_epoch(), 4);
    }

    #[test]
    fn no_annealing_sets_swa_lr_at_construction() {
        let mut t = Lrs::new(vec![0.1], None);
        let _s = SwaLR::new(&mut t, 0.03, 0, AnnealStrategy::Cos);
        assert_eq!(t.lrs, vec![0.03]);
    }

    #[test]
    fn a_negative_swa_lr_is_refused_when_loading_state() {
        let mut t = Lrs::new(vec![0.1], None);
        let mut s = SwaLR::new(&mut t, 0.03, 2, AnnealStrategy::Cos);
        let mut bad = s.state_dict();
        bad["swa_lrs"] = serde_json::json!([-1.0]);
        let e = s.load_state_dict(&bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "SWALR.swa_lr: must be a finite number ≥ 0, got -1"
        );
    }
}
