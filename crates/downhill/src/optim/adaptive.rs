//! Per-coordinate adaptive step sizes: RMSprop, Adagrad, Adadelta.

use serde::{Deserialize, Serialize};

use super::check;
use super::elementwise::{config_builders, lerp, Rule};
use super::hyper::{hyperparameters, WeightDecay};
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

hyperparameters!(RMSprop {
    lr,
    momentum: momentum,
    maximize: maximize
});

/// The constants of one [`RMSprop`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct RMSpropCoefficients<T> {
    /// γ.
    pub lr: T,
    /// α.
    pub alpha: T,
    /// ε.
    pub eps: T,
    /// λ (coupled).
    pub weight_decay: WeightDecay<T>,
    /// μ.
    pub momentum: T,
    /// Normalize by the variance estimate.
    pub centered: bool,
}

impl Rule for RMSprop {
    const NAME: &'static str = "RMSprop";
    type Coefficients<T: Element> = RMSpropCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["square_avg", "momentum_buffer", "grad_avg"]
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
    fn coefficients<T: Element>(&self, _step: u64, _s: &mut [f64]) -> Self::Coefficients<T> {
        RMSpropCoefficients {
            lr: T::from_f64(self.lr),
            alpha: T::from_f64(self.alpha),
            eps: T::from_f64(self.eps),
            weight_decay: WeightDecay::coupled(self.weight_decay),
            momentum: T::from_f64(self.momentum),
            centered: self.centered,
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let g = c.weight_decay.apply(p, g);
        s[0] = s[0] * c.alpha + (T::ONE - c.alpha) * g * g;
        let avg = if c.centered {
            s[2] = lerp(s[2], g, T::ONE - c.alpha);
            (s[0] + -s[2] * s[2]).sqrt()
        } else {
            s[0].sqrt()
        } + c.eps;
        if c.momentum > T::ZERO {
            s[1] = s[1] * c.momentum + g / avg;
            *p += (-c.lr) * s[1];
        } else {
            *p += (-c.lr) * (g / avg);
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

hyperparameters!(Adagrad {
    lr,
    maximize: maximize
});

/// The constants of one [`Adagrad`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct AdagradCoefficients<T> {
    /// γₜ = γ/(1 + (t−1)η).
    pub lr: T,
    /// ε.
    pub eps: T,
    /// λ (coupled).
    pub weight_decay: WeightDecay<T>,
}

impl Rule for Adagrad {
    const NAME: &'static str = "Adagrad";
    type Coefficients<T: Element> = AdagradCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["sum"]
    }
    fn init_slot(&self, _k: usize) -> f64 {
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
    fn coefficients<T: Element>(&self, step: u64, _s: &mut [f64]) -> Self::Coefficients<T> {
        let clr = self.lr / (1.0 + (step as f64 - 1.0) * self.lr_decay);
        AdagradCoefficients {
            lr: T::from_f64(clr),
            eps: T::from_f64(self.eps),
            weight_decay: WeightDecay::coupled(self.weight_decay),
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let g = c.weight_decay.apply(p, g);
        s[0] += g * g;
        let std = s[0].sqrt() + c.eps;
        *p += (-c.lr) * (g / std);
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

hyperparameters!(Adadelta {
    lr,
    maximize: maximize
});

/// The constants of one [`Adadelta`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct AdadeltaCoefficients<T> {
    /// γ.
    pub lr: T,
    /// ρ.
    pub rho: T,
    /// ε.
    pub eps: T,
    /// λ (coupled).
    pub weight_decay: WeightDecay<T>,
}

impl Rule for Adadelta {
    const NAME: &'static str = "Adadelta";
    type Coefficients<T: Element> = AdadeltaCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["square_avg", "acc_delta"]
    }
    fn validate(&self) -> Result<()> {
        check_common(self.lr, self.eps, self.weight_decay)?;
        check(
            (0.0..=1.0).contains(&self.rho),
            "rho",
            format!("must be in [0, 1], got {}", self.rho),
        )
    }
    fn coefficients<T: Element>(&self, _step: u64, _s: &mut [f64]) -> Self::Coefficients<T> {
        AdadeltaCoefficients {
            lr: T::from_f64(self.lr),
            rho: T::from_f64(self.rho),
            eps: T::from_f64(self.eps),
            weight_decay: WeightDecay::coupled(self.weight_decay),
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let g = c.weight_decay.apply(p, g);
        let (rho, eps) = (c.rho, c.eps);
        s[0] = s[0] * rho + (T::ONE - rho) * g * g;
        let std = (s[0] + eps).sqrt();
        let delta = (s[1] + eps).sqrt() / std * g;
        s[1] = s[1] * rho + (T::ONE - rho) * delta * delta;
        *p += (-c.lr) * delta;
    }
}
