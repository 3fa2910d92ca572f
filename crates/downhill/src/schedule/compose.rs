//! Composition: schedules one after another (SequentialLR) or at once (ChainedScheduler).

use super::{LrScheduler, LrTarget};
use crate::{Error, Result};

/// Runs `schedulers[i]` between milestones i−1 and i (`SequentialLR`); at a
/// milestone the next schedule restarts from epoch 0 in its closed form.
///
/// ```
/// use downhill::schedule::{ExponentialLR, LinearLR, LrScheduler, Lrs, SequentialLR};
/// let mut t = Lrs::new(vec![0.1], None);
/// let warm = LinearLR::new(&mut t, 0.1, 1.0, 3);
/// let decay = ExponentialLR::new(&mut t, 0.8);
/// let mut s = SequentialLR::new(&mut t, vec![Box::new(warm), Box::new(decay)], vec![3]).unwrap();
/// assert!((s.last_lr()[0] - 0.01).abs() < 1e-15);
/// for _ in 0..3 { s.step(&mut t); }
/// assert!((t.lrs[0] - 0.1).abs() < 1e-15); // the milestone: ExponentialLR from its start
/// ```
pub struct SequentialLR {
    schedulers: Vec<Box<dyn LrScheduler>>,
    milestones: Vec<i64>,
    last_epoch: i64,
    last_lr: Vec<f64>,
}

impl SequentialLR {
    /// Composes already-built schedules of `opt`, resetting them to the first
    /// one's base learning rates as PyTorch does.
    ///
    /// **Errors** if there is not exactly one milestone fewer than schedules.
    pub fn new(
        opt: &mut dyn LrTarget,
        mut schedulers: Vec<Box<dyn LrScheduler>>,
        milestones: Vec<i64>,
    ) -> Result<Self> {
        if schedulers.is_empty() || milestones.len() + 1 != schedulers.len() {
            return Err(Error::InvalidArgument {
                name: "SequentialLR.milestones".into(),
                message: format!(
                    "{} schedulers need {} milestones, got {}",
                    schedulers.len(),
                    schedulers.len().saturating_sub(1),
                    milestones.len()
                ),
            });
        }
        let initial = schedulers[0].base_lrs();
        for (g, &lr) in initial.iter().enumerate() {
            opt.set_lr(g, lr);
        }
        for s in schedulers.iter_mut() {
            let e = s.last_epoch();
            s.reset(initial.clone(), e - 1);
        }
        schedulers[0].step(opt);
        let last_lr = schedulers[0].last_lr();
        Ok(SequentialLR {
            schedulers,
            milestones,
            last_epoch: 0,
            last_lr,
        })
    }
}

impl LrScheduler for SequentialLR {
    fn step(&mut self, opt: &mut dyn LrTarget) {
        self.last_epoch += 1;
        let idx = self
            .milestones
            .iter()
            .filter(|&&m| m <= self.last_epoch)
            .count();
        let s = &mut self.schedulers[idx];
        if idx > 0 && self.milestones[idx - 1] == self.last_epoch {
            s.step_to(opt, 0);
        } else {
            s.step(opt);
        }
        self.last_lr = s.last_lr();
    }
    fn last_lr(&self) -> Vec<f64> {
        self.last_lr.clone()
    }
    fn last_epoch(&self) -> i64 {
        self.last_epoch
    }
    fn state_dict(&self) -> serde_json::Value {
        serde_json::json!({
            "last_epoch": self.last_epoch,
            "last_lr": self.last_lr,
            "milestones": self.milestones,
            "schedulers": self.schedulers.iter().map(|s| s.state_dict()).collect::<Vec<_>>(),
        })
    }
    fn load_state_dict(&mut self, v: &serde_json::Value) -> Result<()> {
        let bad = |m: &str| Error::InvalidArgument {
            name: "SequentialLR state".into(),
            message: m.into(),
        };
        let subs = v["schedulers"]
            .as_array()
            .ok_or_else(|| bad("missing schedulers"))?;
        if subs.len() != self.schedulers.len() {
            return Err(bad("a different number of schedulers was saved"));
        }
        for (s, sv) in self.schedulers.iter_mut().zip(subs) {
            s.load_state_dict(sv)?;
        }
        self.last_epoch = v["last_epoch"]
            .as_i64()
            .ok_or_else(|| bad("missing last_epoch"))?;
        self.last_lr =
            serde_json::from_value(v["last_lr"].clone()).map_err(|e| bad(&e.to_string()))?;
        Ok(())
    }
    fn step_to(&mut self, opt: &mut dyn LrTarget, epoch: i64) {
        self.last_epoch = epoch - 1;
        self.step(opt);
    }
    fn base_lrs(&self) -> Vec<f64> {
        self.schedulers[0].base_lrs()
    }
    fn reset(&mut self, base_lrs: Vec<f64>, last_epoch: i64) {
        for s in &mut self.schedulers {
            let e = s.last_epoch();
            s.reset(base_lrs.clone(), e);
        }
        self.last_epoch = last_epoch;
    }
}

/// Steps every schedule at once, each multiplying in its change (`ChainedScheduler`).
///
/// ```
/// use downhill::schedule::{ChainedScheduler, ConstantLR, ExponentialLR, LrScheduler, Lrs};
/// let mut t = Lrs::new(vec![1.0], None);
/// let a = ConstantLR::new(&mut t, 0.5, 2);
/// let b = ExponentialLR::new(&mut t, 0.9);
/// let mut s = ChainedScheduler::new(&mut t, vec![Box::new(a), Box::new(b)]);
/// s.step(&mut t);
/// assert!((t.lrs[0] - 0.45).abs() < 1e-15);
/// ```
pub struct ChainedScheduler {
    schedulers: Vec<Box<dyn LrScheduler>>,
    last_lr: Vec<f64>,
}

impl ChainedScheduler {
    /// Chains already-built schedules of `opt`.
    pub fn new(opt: &mut dyn LrTarget, schedulers: Vec<Box<dyn LrScheduler>>) -> Self {
        let last_lr = super::current_lrs(opt);
        ChainedScheduler {
            schedulers,
            last_lr,
        }
    }
}

impl LrScheduler for ChainedScheduler {
    fn step(&mut self, opt: &mut dyn LrTarget) {
        for s in &mut self.schedulers {
            s.step(opt);
        }
        self.last_lr = super::current_lrs(opt);
    }
    fn last_lr(&self) -> Vec<f64> {
        self.last_lr.clone()
    }
    fn last_epoch(&self) -> i64 {
        self.schedulers.last().map_or(0, |s| s.last_epoch())
    }
    fn state_dict(&self) -> serde_json::Value {
        serde_json::json!({"last_lr": self.last_lr, "schedulers": self.schedulers.iter().map(|s| s.state_dict()).collect::<Vec<_>>()})
    }
    fn load_state_dict(&mut self, v: &serde_json::Value) -> Result<()> {
        let bad = |m: &str| Error::InvalidArgument {
            name: "ChainedScheduler state".into(),
            message: m.into(),
        };
        let subs = v["schedulers"]
            .as_array()
            .ok_or_else(|| bad("missing schedulers"))?;
        if subs.len() != self.schedulers.len() {
            return Err(bad("a different number of schedulers was saved"));
        }
        for (s, sv) in self.schedulers.iter_mut().zip(subs) {
            s.load_state_dict(sv)?;
        }
        self.last_lr =
            serde_json::from_value(v["last_lr"].clone()).map_err(|e| bad(&e.to_string()))?;
        Ok(())
    }
    fn step_to(&mut self, opt: &mut dyn LrTarget, epoch: i64) {
        for s in &mut self.schedulers {
            s.step_to(opt, epoch);
        }
        self.last_lr = super::current_lrs(opt);
    }
    fn base_lrs(&self) -> Vec<f64> {
        self.schedulers
            .first()
            .map(|s| s.base_lrs())
            .unwrap_or_default()
    }
    fn reset(&mut self, base_lrs: Vec<f64>, last_epoch: i64) {
        for s in &mut self.schedulers {
            s.reset(base_lrs.clone(), last_epoch);
        }
    }
}
