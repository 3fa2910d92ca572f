//! ReduceLROnPlateau: lower the learning rate when a metric stops improving.

use serde::{Deserialize, Serialize};

use super::LrTarget;
use crate::validate::{at_least, within};
use crate::{Error, Result};

/// Whether lower or higher metric values are better.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum PlateauMode {
    /// Lower is better (a loss).
    #[default]
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` defines a significant improvement.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// Better than best·(1 ∓ threshold).
    #[default]
    Rel,
    /// Better than best ∓ threshold.
    Abs,
}

/// `torch.optim.lr_scheduler.ReduceLROnPlateau`: after more than `patience`
/// steps without a significant improvement of the metric, lr ← max(lr·factor,
/// min_lr) (skipped if the change is below `eps`), then wait `cooldown` steps.
///
/// ```
/// use downhill::schedule::{Lrs, ReduceLROnPlateau};
/// let mut t = Lrs::new(vec![0.1], None);
/// let mut s = ReduceLROnPlateau::new(&t).patience(1).factor(0.5);
/// for loss in [1.0, 1.0, 1.0] {
///     s.step(loss, &mut t);
/// }
/// assert_eq!(t.lrs, vec![0.05]);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReduceLROnPlateau {
    /// min or max (default min).
    pub mode: PlateauMode,
    /// Multiplier of the learning rate (default 0.1).
    pub factor: f64,
    /// Steps without improvement tolerated (default 10).
    pub patience: usize,
    /// Significance threshold (default 1e-4).
    pub threshold: f64,
    /// rel or abs (default rel).
    pub threshold_mode: ThresholdMode,
    /// Steps to wait after a reduction (default 0).
    pub cooldown: usize,
    /// Lower bound per group (default 0).
    pub min_lrs: Vec<f64>,
    /// Smallest change worth applying (default 1e-8).
    pub eps: f64,
    best: f64,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    last_epoch: i64,
    last_lr: Vec<f64>,
}

impl ReduceLROnPlateau {
    /// PyTorch's defaults on `opt`'s groups.
    pub fn new(opt: &dyn LrTarget) -> Self {
        let n = opt.num_groups();
        ReduceLROnPlateau {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lrs: vec![0.0; n],
            eps: 1e-8,
            best: f64::INFINITY,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
            last_lr: (0..n).map(|g| opt.lr(g)).collect(),
        }
    }

    /// Sets `mode` (and resets the best value to the worst one).
    pub fn mode(mut self, mode: PlateauMode) -> Self {
        self.mode = mode;
        self.best = if mode == PlateauMode::Min {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
        self
    }
    /// Sets `factor`.
    ///
    /// **Panics** unless 0 ≤ factor < 1.
    pub fn factor(mut self, f: f64) -> Self {
        assert!(
            (0.0..1.0).contains(&f),
            "ReduceLROnPlateau: factor should be < 1.0, got {f}"
        );
        self.factor = f;
        self
    }
    /// PyTorch's rule factor < 1, and ≥ 0 (a negative factor would make the
    /// learning rate negative); threshold, min_lr and eps finite and ≥ 0.
    pub(crate) fn check(factor: f64, threshold: f64, min_lr: f64, eps: f64) -> Result<()> {
        within(
            "ReduceLROnPlateau.factor",
            factor,
            "[0, 1)",
            (0.0..1.0).contains(&factor),
        )?;
        at_least("ReduceLROnPlateau.threshold", threshold, 0.0)?;
        at_least("ReduceLROnPlateau.min_lr", min_lr, 0.0)?;
        at_least("ReduceLROnPlateau.eps", eps, 0.0)?;
        Ok(())
    }

    /// Sets `patience`.
    pub fn patience(mut self, p: usize) -> Self {
        self.patience = p;
        self
    }
    /// Sets `threshold` and its mode.
    pub fn threshold(mut self, t: f64, mode: ThresholdMode) -> Self {
        self.threshold = t;
        self.threshold_mode = mode;
        self
    }
    /// Sets `cooldown`.
    pub fn cooldown(mut self, c: usize) -> Self {
        self.cooldown = c;
        self
    }
    /// Sets one `min_lr` for every group.
    pub fn min_lr(mut self, m: f64) -> Self {
        self.min_lrs.iter_mut().for_each(|x| *x = m);
        self
    }
    /// Sets `eps`.
    pub fn eps(mut self, e: f64) -> Self {
        self.eps = e;
        self
    }

    fn is_better(&self, a: f64) -> bool {
        let (t, best) = (self.threshold, self.best);
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - t),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - t,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (t + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + t,
        }
    }

    /// Feeds this epoch's metric; lowers the learning rates on a plateau.
    pub fn step(&mut self, metric: f64, opt: &mut dyn LrTarget) {
        self.last_epoch += 1;
        if self.is_better(metric) {
            self.best = metric;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            for g in 0..opt.num_groups() {
                let old = opt.lr(g);
                let new = f64::max(old * self.factor, self.min_lrs[g]);
                if old - new > self.eps {
                    opt.set_lr(g, new);
                }
            }
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
        }
        self.last_lr = (0..opt.num_groups()).map(|g| opt.lr(g)).collect();
    }

    /// The learning rates after the last step.
    pub fn last_lr(&self) -> &[f64] {
        &self.last_lr
    }

    /// The best metric so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Counters and settings as plain data.
    pub fn state_dict(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plateau state serializes")
    }

    /// Restores [`ReduceLROnPlateau::state_dict`].
    ///
    /// **Errors** if the state is malformed.
    pub fn load_state_dict(&mut self, v: &serde_json::Value) -> Result<()> {
        let loaded: Self =
            serde_json::from_value(v.clone()).map_err(|e| Error::InvalidArgument {
                name: "ReduceLROnPlateau state".into(),
                message: e.to_string(),
            })?;
        for &m in &loaded.min_lrs {
            Self::check(loaded.factor, loaded.threshold, m, loaded.eps)?;
        }
        if loaded.min_lrs.len() != self.min_lrs.len() {
            return Err(Error::InvalidArgument {
                name: "ReduceLROnPlateau state".into(),
                message: format!(
                    "{} min_lrs saved for {} parameter groups",
                    loaded.min_lrs.len(),
                    self.min_lrs.len()
                ),
            });
        }
        *self = loaded;
        Ok(())
    }
}
