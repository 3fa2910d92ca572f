//! Cyclical schedules: CyclicLR and OneCycleLR, both cycling momentum too.

use std::f64::consts::PI;

use serde::{Deserialize, Serialize};

use super::{Base, Chainable, LrTarget};
use crate::validate::{above, at_least, count, within};
use crate::{Error, Result};

/// The amplitude policy of [`CyclicLR`].
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub enum CyclicMode {
    /// Constant amplitude.
    Triangular,
    /// Amplitude halved each cycle.
    Triangular2,
    /// Amplitude scaled by γ^iteration.
    ExpRange {
        /// γ.
        gamma: f64,
    },
}

/// Cyclical learning rates (Smith, 2017), `CyclicLR`: the rate goes from
/// `base_lr` up to `max_lr` in `step_size_up` steps and back down in
/// `step_size_down`, scaled by the mode; momentum (if cycled) moves the
/// opposite way between `max_momentum` and `base_momentum`. Step it per batch.
///
/// ```
/// use downhill::schedule::{CyclicLR, CyclicMode, LrScheduler, Lrs};
/// let mut t = Lrs::new(vec![0.1], Some(vec![0.9]));
/// let mut s = CyclicLR::new(&mut t, 0.01, 0.1, 2.0, None, CyclicMode::Triangular);
/// s.step(&mut t);
/// assert!((t.lrs[0] - 0.055).abs() < 1e-12);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CyclicLR {
    base: Base,
    max_lrs: Vec<f64>,
    total_size: f64,
    step_ratio: f64,
    mode: CyclicMode,
    cycle_momentum: bool,
    base_momentums: Vec<f64>,
    max_momentums: Vec<f64>,
}

impl CyclicLR {
    /// A CyclicLR on `opt` (sets its learning rates to `base_lr`). Momentum
    /// cycling is off until [`CyclicLR::cycle_momentum`] turns it on
    /// (PyTorch turns it on by default; `from_config` does too).
    pub fn new(
        opt: &mut dyn LrTarget,
        base_lr: f64,
        max_lr: f64,
        step_size_up: f64,
        step_size_down: Option<f64>,
        mode: CyclicMode,
    ) -> Self {
        let n = opt.num_groups();
        for g in 0..n {
            opt.set_lr(g, base_lr);
        }
        let down = step_size_down.unwrap_or(step_size_up);
        let total = step_size_up + down;
        let mut s = CyclicLR {
            base: Base::new(opt),
            max_lrs: vec![max_lr; n],
            total_size: total,
            step_ratio: step_size_up / total,
            mode,
            cycle_momentum: false,
            base_momentums: vec![],
            max_momentums: vec![],
        };
        s.base.base_lrs = vec![base_lr; n];
        s.initial_step(opt)
    }

    /// Cycles momentum between `base_momentum` and `max_momentum` (PyTorch
    /// defaults 0.8 and 0.9), redoing the initial step.
    pub fn cycle_momentum(
        mut self,
        opt: &mut dyn LrTarget,
        on: bool,
        base_momentum: f64,
        max_momentum: f64,
    ) -> Self {
        let n = opt.num_groups();
        self.cycle_momentum = on && (0..n).all(|g| opt.momentum(g).is_some());
        if self.cycle_momentum {
            self.base_momentums = vec![base_momentum; n];
            self.max_momentums = vec![max_momentum; n];
            for g in 0..n {
                opt.set_momentum(g, max_momentum);
                opt.set_lr(g, self.base.base_lrs[g]);
            }
            self.base.last_epoch = -1;
            return self.initial_step(opt);
        }
        self
    }

    /// The rules of CyclicLR's numbers: learning rates and momenta finite
    /// and ≥ 0, `step_size_up` > 0 and `step_size_down` ≥ 0 (PyTorch
    /// divides by the cycle and by its rising half), exp_range's γ > 0.
    pub(crate) fn check(
        base_lr: f64,
        max_lr: f64,
        step_size_up: f64,
        step_size_down: Option<f64>,
        mode: CyclicMode,
        momenta: (f64, f64),
    ) -> Result<()> {
        at_least("CyclicLR.base_lr", base_lr, 0.0)?;
        at_least("CyclicLR.max_lr", max_lr, 0.0)?;
        above("CyclicLR.step_size_up", step_size_up, 0.0)?;
        if let Some(d) = step_size_down {
            at_least("CyclicLR.step_size_down", d, 0.0)?;
        }
        if let CyclicMode::ExpRange { gamma } = mode {
            above("CyclicLR.gamma", gamma, 0.0)?;
        }
        at_least("CyclicLR.base_momentum", momenta.0, 0.0)?;
        at_least("CyclicLR.max_momentum", momenta.1, 0.0)?;
        Ok(())
    }

    fn scale(&self, cycle: f64, iterations: f64) -> f64 {
        match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(cycle - 1.0),
            CyclicMode::ExpRange { gamma } => gamma.powf(iterations),
        }
    }
}

impl Chainable for CyclicLR {
    fn validate(&self) -> Result<()> {
        let ok = self.total_size.is_finite()
            && self.total_size > 0.0
            && self.step_ratio > 0.0
            && self.step_ratio <= 1.0;
        if !ok || self.max_lrs.len() != self.base.base_lrs.len() {
            return Err(Error::InvalidArgument {
                name: "CyclicLR state".into(),
                message: "the cycle's sizes are not positive".into(),
            });
        }
        Ok(())
    }
    fn base(&self) -> &Base {
        &self.base
    }
    fn base_mut(&mut self) -> &mut Base {
        &mut self.base
    }
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let e = self.base.last_epoch as f64;
        let cycle = (1.0 + e / self.total_size).floor();
        let x = 1.0 + e / self.total_size - cycle;
        let scale_factor = if x <= self.step_ratio {
            x / self.step_ratio
        } else {
            (x - 1.0) / (self.step_ratio - 1.0)
        };
        let s = self.scale(cycle, e);
        let lrs = self
            .base
            .base_lrs
            .iter()
            .zip(&self.max_lrs)
            .map(|(b, m)| b + (m - b) * scale_factor * s)
            .collect();
        if self.cycle_momentum {
            for (g, (b, m)) in self
                .base_momentums
                .iter()
                .zip(&self.max_momentums)
                .enumerate()
            {
                opt.set_momentum(g, m - (m - b) * scale_factor * s);
            }
        }
        lrs
    }
}

/// How [`OneCycleLR`] interpolates within a phase.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum AnnealStrategy {
    /// Cosine: end + (start − end)(1 + cos(π·pct))/2.
    Cos,
    /// Linear: start + (end − start)·pct.
    Linear,
}

/// The settings of [`OneCycleLR`], PyTorch's names and defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OneCycleConfig {
    /// Peak learning rate.
    pub max_lr: f64,
    /// Steps in the whole cycle.
    pub total_steps: usize,
    /// Fraction of the cycle spent increasing (default 0.3).
    pub pct_start: f64,
    /// Interpolation (default cos).
    pub anneal_strategy: AnnealStrategy,
    /// Cycle momentum inversely (default true).
    pub cycle_momentum: bool,
    /// Lowest momentum (default 0.85).
    pub base_momentum: f64,
    /// Highest momentum (default 0.95).
    pub max_momentum: f64,
    /// initial_lr = max_lr/div_factor (default 25).
    pub div_factor: f64,
    /// min_lr = initial_lr/final_div_factor (default 1e4).
    pub final_div_factor: f64,
    /// Three phases (up, down to initial, down to min) instead of two.
    pub three_phase: bool,
}

impl OneCycleConfig {
    /// PyTorch's rules: `total_steps` a positive integer, `pct_start` in
    /// [0, 1]; and what keeps the numbers finite: `max_lr` and the momenta
    /// ≥ 0, `div_factor` and `final_div_factor` > 0 (they divide).
    ///
    /// **Errors** naming `OneCycleLR.KEY` and the rule.
    pub fn check(&self) -> Result<()> {
        count("OneCycleLR.total_steps", self.total_steps as u64, 1)?;
        let p = self.pct_start;
        within(
            "OneCycleLR.pct_start",
            p,
            "[0, 1]",
            (0.0..=1.0).contains(&p),
        )?;
        at_least("OneCycleLR.max_lr", self.max_lr, 0.0)?;
        above("OneCycleLR.div_factor", self.div_factor, 0.0)?;
        above("OneCycleLR.final_div_factor", self.final_div_factor, 0.0)?;
        at_least("OneCycleLR.base_momentum", self.base_momentum, 0.0)?;
        at_least("OneCycleLR.max_momentum", self.max_momentum, 0.0)?;
        let initial = self.max_lr / self.div_factor;
        let min = initial / self.final_div_factor;
        if !initial.is_finite() || !min.is_finite() {
            return Err(Error::InvalidArgument {
                name: "OneCycleLR.div_factor".into(),
                message: "max_lr/div_factor/final_div_factor is not a finite number".into(),
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
enum Level {
    Initial,
    Max,
    Min,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Phase {
    end_step: f64,
    start_lr: Level,
    end_lr: Level,
    /// true: from max to base momentum.
    momentum_down: Option<bool>,
}

/// The 1cycle policy (Smith & Topin, 2018), `OneCycleLR`: from max_lr/div_factor
/// up to max_lr over `pct_start` of the steps, then down to
/// initial/final_div_factor, momentum moving inversely. Step it per batch.
///
/// ```
/// use downhill::schedule::{LrScheduler, Lrs, OneCycleLR};
/// let mut t = Lrs::new(vec![0.1], Some(vec![0.9]));
/// let s = OneCycleLR::new(&mut t, OneCycleLR::config(0.5, 30)).unwrap();
/// assert!((s.last_lr()[0] - 0.02).abs() < 1e-15); // 0.5/25
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct OneCycleLR {
    base: Base,
    config: OneCycleConfig,
    phases: Vec<Phase>,
    max_lrs: Vec<f64>,
    min_lrs: Vec<f64>,
    cycle_momentum: bool,
}

impl OneCycleLR {
    /// PyTorch's defaults for a cycle peaking at `max_lr` over `total_steps`.
    pub fn config(max_lr: f64, total_steps: usize) -> OneCycleConfig {
        OneCycleConfig {
            max_lr,
            total_steps,
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }

    /// A OneCycleLR on `opt` (sets its learning rates to max_lr/div_factor).
    ///
    /// **Errors** unless the config passes `OneCycleConfig::check`.
    pub fn new(opt: &mut dyn LrTarget, config: OneCycleConfig) -> Result<Self> {
        config.check()?;
        let t = config.total_steps as f64;
        let phases = if config.three_phase {
            vec![
                Phase {
                    end_step: config.pct_start * t - 1.0,
                    start_lr: Level::Initial,
                    end_lr: Level::Max,
                    momentum_down: Some(true),
                },
                Phase {
                    end_step: 2.0 * config.pct_start * t - 2.0,
                    start_lr: Level::Max,
                    end_lr: Level::Initial,
                    momentum_down: Some(false),
                },
                Phase {
                    end_step: t - 1.0,
                    start_lr: Level::Initial,
                    end_lr: Level::Min,
                    momentum_down: None,
                },
            ]
        } else {
            vec![
                Phase {
                    end_step: config.pct_start * t - 1.0,
                    start_lr: Level::Initial,
                    end_lr: Level::Max,
                    momentum_down: Some(true),
                },
                Phase {
                    end_step: t - 1.0,
                    start_lr: Level::Max,
                    end_lr: Level::Min,
                    momentum_down: Some(false),
                },
            ]
        };
        let n = opt.num_groups();
        let initial = config.max_lr / config.div_factor;
        for g in 0..n {
            opt.set_lr(g, initial);
        }
        let cycle_momentum = config.cycle_momentum && (0..n).all(|g| opt.momentum(g).is_some());
        if cycle_momentum {
            for g in 0..n {
                opt.set_momentum(g, config.max_momentum);
            }
        }
        let s = OneCycleLR {
            base: Base::new(opt),
            max_lrs: vec![config.max_lr; n],
            min_lrs: vec![initial / config.final_div_factor; n],
            config,
            phases,
            cycle_momentum,
        };
        Ok(s.initial_step(opt))
    }

    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        match self.config.anneal_strategy {
            AnnealStrategy::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

impl Chainable for OneCycleLR {
    fn validate(&self) -> Result<()> {
        self.config.check()?;
        let n = self.base.base_lrs.len();
        if self.max_lrs.len() != n || self.min_lrs.len() != n || self.phases.is_empty() {
            return Err(Error::InvalidArgument {
                name: "OneCycleLR state".into(),
                message: "its learning rates do not cover every group".into(),
            });
        }
        Ok(())
    }
    fn base(&self) -> &Base {
        &self.base
    }
    fn base_mut(&mut self) -> &mut Base {
        &mut self.base
    }
    /// Past `total_steps` (where PyTorch raises) the rates stay where the
    /// cycle ended: a resumed run given more epochs must not crash.
    fn get_lr(&mut self, opt: &mut dyn LrTarget) -> Vec<f64> {
        let step = self.base.last_epoch.min(self.config.total_steps as i64) as f64;
        let mut lrs = Vec::new();
        for g in 0..self.max_lrs.len() {
            let level = |l: Level| match l {
                Level::Initial => self.base.base_lrs[g],
                Level::Max => self.max_lrs[g],
                Level::Min => self.min_lrs[g],
            };
            let mut start = 0.0;
            for (i, ph) in self.phases.iter().enumerate() {
                if step <= ph.end_step || i == self.phases.len() - 1 {
                    // A phase of zero length (pct_start·total_steps = 1) is at its end,
                    // where PyTorch would compute 0/0.
                    let span = ph.end_step - start;
                    let pct = if span == 0.0 {
                        1.0
                    } else {
                        (step - start) / span
                    };
                    lrs.push(self.anneal(level(ph.start_lr), level(ph.end_lr), pct));
                    if self.cycle_momentum {
                        let (hi, lo) = (self.config.max_momentum, self.config.base_momentum);
                        let m = match ph.momentum_down {
                            Some(true) => self.anneal(hi, lo, pct),
                            Some(false) => self.anneal(lo, hi, pct),
                            None => self.anneal(hi, hi, pct),
                        };
                        opt.set_momentum(g, m);
                    }
                    break;
                }
                start = ph.end_step;
            }
        }
        lrs
    }
}
