//! Per-coordinate adaptive step sizes: RMSprop, Adagrad, Adadelta.

use serde::{Deserialize, Serialize};

use super::check;
use super::elementwise::{config_builders, lerp, Rule};
use crate::tensor::Element;
use crate::Result;

fn check_common(lr: f64, eps: f64, wd: f64) -> Result<()> {
    check(
        lr >= 0.0 && lr.is_finite(),
        "lr",
        format!("must be a finite number ≥ 0, got {lr}"),
    )?;
    check(eps >= 0.0, "eps", format!("must be ≥ 0, got {eps}"))?;
    check(wd >= 0.0, "weight_decay", format!("must be ≥ 0, got {wd}"))
}

/// RMSprop (Hinton, 2012), `torch.optim.RMSprop`:
///
/// g ← ∇L + λθ;  v ← αv + (1−α)g²;  (centered: ḡ ← αḡ + (1−α)g, v̂ = v − ḡ²);
/// d = √v̂ + ε;  with momentum μ: b ← μb + g/d, θ ← θ − γb; else θ ← θ − γ·g/d
///
/// (γ `lr`, α `alpha`.)
///
/// ```
/// use downhill::optim::RMSprop;
/// assert_eq!(RMSprop::default().alpha, 0.99);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RMSprop {
    /// Learning rate γ (default 0.01).
    pub lr: f64,
    /// Smoothing constant α (default 0.99).
    pub alpha: f64,
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Momentum μ (default 0).
    pub momentum: f64,
    /// Normalize by the variance estimate instead of the second moment.
    pub centered: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for RMSprop {
    fn default() -> Self {
        RMSprop {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

config_builders!(RMSprop {
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool
});

impl Rule for RMSprop {
    const NAME: &'static str = "RMSprop";
    // square average, momentum buffer, gradient average
    fn buffers(&self) -> usize {
        3
    }
    fn validate(&self) -> Result<()> {
        check_common(self.lr, self.eps, self.weight_decay)?;
        check(
            self.alpha >= 0.0,
            "alpha",
            format!("must be ≥ 0, got {}", self.alpha),
        )?;
        check(
            self.momentum >= 0.0,
            "momentum",
            format!("must be ≥ 0, got {}", self.momentum),
        )
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }
    fn set_momentum(&mut self, m: f64) {
        self.momentum = m;
    }
    fn maximize(&self) -> bool {
        self.maximize
    }
    fn coefficients(&self, _step: u64, _s: &mut [f64]) -> [f64; 8] {
        [
            self.lr,
            self.alpha,
            self.eps,
            self.weight_decay,
            self.momentum,
            0.0,
            0.0,
            0.0,
        ]
    }
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]) {
        let mut g = g;
        if c[3] != T::ZERO {
            g += *p * c[3];
        }
        s[0] = s[0] * c[1] + (T::ONE - c[1]) * g * g;
        let avg = if self.centered {
            s[2] = lerp(s[2], g, T::ONE - c[1]);
            (s[0] + -s[2] * s[2]).sqrt()
        } else {
            s[0].sqrt()
        } + c[2];
        if c[4] > T::ZERO {
            s[1] = s[1] * c[4] + g / avg;
            *p += (-c[0]) * s[1];
        } else {
            *p += (-c[0]) * (g / avg);
        }
    }
}

/// Adagrad (Duchi et al., 2011), `torch.optim.Adagrad`:
///
/// g ← ∇L + λθ;  γₜ = γ/(1 + (t−1)η);  s ← s + g²;  θ ← θ − γₜ·g/(√s + ε)
///
/// (η `lr_decay`; s starts at `initial_accumulator_value`.)
///
/// ```
/// use downhill::optim::Adagrad;
/// assert_eq!(Adagrad::default().eps, 1e-10);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Adagrad {
    /// Learning rate γ (default 0.01).
    pub lr: f64,
    /// η (default 0).
    pub lr_decay: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Starting value of the sum of squares (default 0).
    pub initial_accumulator_value: f64,
    /// Added to the denominator (default 1e-10).
    pub eps: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

config_builders!(Adagrad {
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    initial_accumulator_value: f64,
    eps: f64,
    maximize: bool
});

impl Rule for Adagrad {
    const NAME: &'static str = "Adagrad";
    fn buffers(&self) -> usize {
        1
    }
    fn init_buffer(&self, _k: usize) -> f64 {
        self.initial_accumulator_value
    }
    fn validate(&self) -> Result<()> {
        check_common(self.lr, self.eps, self.weight_decay)?;
        check(
            self.lr_decay >= 0.0,
            "lr_decay",
            format!("must be ≥ 0, got {}", self.lr_decay),
        )?;
        check(
            self.initial_accumulator_value >= 0.0,
            "initial_accumulator_value",
            format!("must be ≥ 0, got {}", self.initial_accumulator_value),
        )
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn maximize(&self) -> bool {
        self.maximize
    }
    fn coefficients(&self, step: u64, _s: &mut [f64]) -> [f64; 8] {
        let clr = self.lr / (1.0 + (step as f64 - 1.0) * self.lr_decay);
        [clr, self.eps, self.weight_decay, 0.0, 0.0, 0.0, 0.0, 0.0]
    }
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]) {
        let mut g = g;
        if c[2] != T::ZERO {
            g += *p * c[2];
        }
        s[0] += g * g;
        let std = s[0].sqrt() + c[1];
        *p += (-c[0]) * (g / std);
    }
}

/// Adadelta (Zeiler, 2012), `torch.optim.Adadelta`:
///
/// g ← ∇L + λθ;  v ← ρv + (1−ρ)g²;  Δ = √(u + ε)/√(v + ε)·g;  u ← ρu + (1−ρ)Δ²;  θ ← θ − γΔ
///
/// ```
/// use downhill::optim::Adadelta;
/// assert_eq!(Adadelta::default().rho, 0.9);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Adadelta {
    /// Scale γ of the step (default 1.0).
    pub lr: f64,
    /// Decay ρ of the running averages (default 0.9).
    pub rho: f64,
    /// Inside the square roots (default 1e-6).
    pub eps: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adadelta {
    fn default() -> Self {
        Adadelta {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

config_builders!(Adadelta {
    lr: f64,
    rho: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool
});

impl Rule for Adadelta {
    const NAME: &'static str = "Adadelta";
    fn buffers(&self) -> usize {
        2
    }
    fn validate(&self) -> Result<()> {
        check_common(self.lr, self.eps, self.weight_decay)?;
        check(
            (0.0..=1.0).contains(&self.rho),
            "rho",
            format!("must be in [0, 1], got {}", self.rho),
        )
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn maximize(&self) -> bool {
        self.maximize
    }
    fn coefficients(&self, _step: u64, _s: &mut [f64]) -> [f64; 8] {
        [
            self.lr,
            self.rho,
            self.eps,
            self.weight_decay,
            0.0,
            0.0,
            0.0,
            0.0,
        ]
    }
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]) {
        let mut g = g;
        if c[3] != T::ZERO {
            g += *p * c[3];
        }
        let (rho, eps) = (c[1], c[2]);
        s[0] = s[0] * rho + (T::ONE - rho) * g * g;
        let std = (s[0] + eps).sqrt();
        let delta = (s[1] + eps).sqrt() / std * g;
        s[1] = s[1] * rho + (T::ONE - rho) * delta * delta;
        *p += (-c[0]) * delta;
    }
}
