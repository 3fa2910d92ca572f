//! Cosine annealing, with and without warm restarts.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use super::{current_lrs, Base, Chainable, LrTarget};
use crate::validate::{at_least, count};
use crate::Result;

/// Cosine annealing (Loshchilov & Hutter, 2017), `CosineAnnealingLR`:
/// lrₜ = η_min + (lr₀ − η_min)(1 + cos(πt/T_max))/2, computed in PyTorch's
/// recursive form (and continuing as a cosine wave past T_max).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CosineAnnealingLR {
    base: Base,
    /// Half period, in epochs.
    #[serde(rename = "T_max")]
    pub t_max: usize,
    /// Minimum learning rate η_min (default 0).
    pub eta_min: f64,
}

impl CosineAnnealingLR {
    /// A CosineAnnealingLR on `opt`.
    ///
    /// **Panics** if `t_max` is 0.
    pub fn new(opt: &mut dyn LrTarget, t_max: usize, eta_min: f64) -> Self {
        assert!(t_max > 0, "CosineAnnealingLR: T_max must be positive");
        CosineAnnealingLR {
            base: Base::new(opt),
            t_max,
            eta_min,
        }
        .initial_step(opt)
    }

    /// `T_max` ≥ 1 (PyTorch divides by it) and η_min ≥ 0 (a learning rate).
    pub(crate) fn check(t_max: usize, eta_min: f64) -> Result<()> {
        count("CosineAnnealingLR.T_max", t_max as u64, 1)?;
        at_least("CosineAnnealingLR.eta_min", eta_min, 0.0).map(drop)
    }
}

impl Chainable for CosineAnnealingLR {
    fn validate(&self) -> Result<()> {
        Self::check(self.t_max, self.eta_min)
    }
    fn base(&self) -> &Base {
        &self.base
    }
    fn base_mut(&mut self) -> &mut Base {
        &mut self.base
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let e = self.base.last_epoch;
        let t = self.t_max as f64;
        let lrs = current_lrs(opt);
        if e == 0 {
            return lrs;
        }
        if (e - 1 - self.t_max as i64).rem_euclid(2 * self.t_max as i64) == 0 {
            return lrs
                .iter()
                .zip(&self.base.base_lrs)
                .map(|(lr, b)| lr + (b - self.eta_min) * (1.0 - (PI / t).cos()) / 2.0)
                .collect();
        }
        let k = (1.0 + (PI * e as f64 / t).cos()) / (1.0 + (PI * (e as f64 - 1.0) / t).cos());
        lrs.iter()
            .map(|lr| k * (lr - self.eta_min) + self.eta_min)
            .collect()
    }
    fn closed_form(&self) -> Option<Vec<f64>> {
        let e = self.base.last_epoch as f64;
        Some(
            self.base
                .base_lrs
                .iter()
                .map(|b| {
                    self.eta_min
                        + (b - self.eta_min) * (1.0 + (PI * e / self.t_max as f64).cos()) / 2.0
                })
                .collect(),
        )
    }
}

/// Cosine annealing with warm restarts (SGDR), `CosineAnnealingWarmRestarts`:
/// lr = η_min + (lr₀ − η_min)(1 + cos(π·T_cur/T_i))/2, where T_cur restarts at
/// 0 after T_i epochs and T_i grows by `T_mult` at each restart.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CosineAnnealingWarmRestarts {
    base: Base,
    /// First period T₀.
    #[serde(rename = "T_0")]
    pub t_0: usize,
    /// Period growth factor (default 1).
    #[serde(rename = "T_mult")]
    pub t_mult: usize,
    /// Minimum learning rate (default 0).
    pub eta_min: f64,
    t_i: usize,
    t_cur: usize,
}

impl CosineAnnealingWarmRestarts {
    /// A CosineAnnealingWarmRestarts on `opt`.
    ///
    /// **Panics** if `t_0` is 0 or `t_mult` is 0.
    pub fn new(opt: &mut dyn LrTarget, t_0: usize, t_mult: usize, eta_min: f64) -> Self {
        assert!(t_0 > 0, "CosineAnnealingWarmRestarts: T_0 must be positive");
        assert!(
            t_mult >= 1,
            "CosineAnnealingWarmRestarts: T_mult must be ≥ 1"
        );
        let mut s = CosineAnnealingWarmRestarts {
            base: Base::new(opt),
            t_0,
            t_mult,
            eta_min,
            t_i: t_0,
            t_cur: 0,
        };
        // PyTorch's initial step goes through step(epoch=0).
        s.base.last_epoch = 0;
        let lrs = s.lrs();
        for (g, &lr) in lrs.iter().enumerate() {
            opt.set_lr(g, lr);
        }
        s.base.last_lr = lrs;
        s
    }

    /// PyTorch's rules: `T_0` a positive integer, `T_mult` an integer ≥ 1;
    /// and η_min ≥ 0 (a learning rate).
    pub(crate) fn check(t_0: usize, t_mult: usize, eta_min: f64) -> Result<()> {
        count("CosineAnnealingWarmRestarts.T_0", t_0 as u64, 1)?;
        count("CosineAnnealingWarmRestarts.T_mult", t_mult as u64, 1)?;
        at_least("CosineAnnealingWarmRestarts.eta_min", eta_min, 0.0).map(drop)
    }

    fn lrs(&self) -> Vec<f64> {
        self.base
            .base_lrs
            .iter()
            .map(|b| {
                self.eta_min
                    + (b - self.eta_min) * (1.0 + (PI * self.t_cur as f64 / self.t_i as f64).cos())
                        / 2.0
            })
            .collect()
    }
}

impl Chainable for CosineAnnealingWarmRestarts {
    fn validate(&self) -> Result<()> {
        Self::check(self.t_0, self.t_mult, self.eta_min)?;
        if self.t_i == 0 {
            return Err(crate::validate::invalid(
                "CosineAnnealingWarmRestarts state",
                "the current period T_i is 0",
            ));
        }
        Ok(())
    }
    fn base(&self) -> &Base {
        &self.base
    }
    fn base_mut(&mut self) -> &mut Base {
        &mut self.base
    }
    fn get_lr(&mut self, _opt: &mut dyn LrTarget) -> Vec<f64> {
        // step() without an epoch: T_cur advances and wraps.
        self.t_cur += 1;
        if self.t_cur >= self.t_i {
            self.t_cur -= self.t_i;
            self.t_i = self.t_i.saturating_mul(self.t_mult);
        }
        self.lrs()
    }
    fn closed_form(&self) -> Option<Vec<f64>> {
        // PyTorch's step(epoch): locate the epoch inside its period.
        let mut s = self.clone();
        let epoch = self.base.last_epoch.max(0) as usize;
        if epoch >= s.t_0 {
            if s.t_mult == 1 {
                s.t_cur = epoch % s.t_0;
                s.t_i = s.t_0;
            } else {
                let (t0, m) = (s.t_0 as f64, s.t_mult as f64);
                let n = ((epoch as f64 / t0 * (m - 1.0) + 1.0).ln() / m.ln()).floor() as i32;
                s.t_cur = epoch - (t0 * (m.powi(n) - 1.0) / (m - 1.0)) as usize;
                s.t_i = s.t_0.saturating_mul(s.t_mult.saturating_pow(n as u32));
            }
        } else {
            s.t_i = s.t_0;
            s.t_cur = epoch;
        }
        Some(s.lrs())
    }
}
