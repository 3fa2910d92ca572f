//! Sign-based optimizers: Rprop and Lion.

use serde::{Deserialize, Serialize};

use super::check;
use super::elementwise::{config_builders, Rule};
use super::hyper::hyperparameters;
use crate::tensor::Element;
use crate::Result;

#[inline(always)]
fn sign<T: Element>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// Resilient backpropagation (Riedmiller & Braun, 1993), `torch.optim.Rprop`:
///
/// each coordinate keeps a step size δ: δ ← clamp(δ·η₊, …) when g·g_prev > 0,
/// δ ← clamp(δ·η₋, …) and g ← 0 when g·g_prev < 0;  θ ← θ − sign(g)·δ
///
/// ```
/// use downhill::optim::Rprop;
/// assert_eq!(Rprop::default().etas, (0.5, 1.2));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rprop {
    /// Initial step size (default 0.01).
    pub lr: f64,
    /// (η₋, η₊) (default (0.5, 1.2)).
    pub etas: (f64, f64),
    /// (min, max) step sizes (default (1e-6, 50)).
    pub step_sizes: (f64, f64),
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Rprop {
    fn default() -> Self {
        Rprop {
            lr: 1e-2,
            etas: (0.5, 1.2),
            step_sizes: (1e-6, 50.0),
            maximize: false,
        }
    }
}

config_builders!(Rprop {
    lr: f64,
    etas: (f64, f64),
    step_sizes: (f64, f64),
    maximize: bool
});

hyperparameters!(Rprop {
    lr,
    maximize: maximize
});

/// The constants of one [`Rprop`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct RpropCoefficients<T> {
    /// η₋.
    pub eta_minus: T,
    /// η₊.
    pub eta_plus: T,
    /// Smallest step size.
    pub step_size_min: T,
    /// Largest step size.
    pub step_size_max: T,
}

impl Rule for Rprop {
    const NAME: &'static str = "Rprop";
    type Coefficients<T: Element> = RpropCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["prev", "step_size"]
    }
    fn init_slot(&self, k: usize) -> f64 {
        if k == 1 {
            self.lr
        } else {
            0.0
        }
    }
    fn validate(&self) -> Result<()> {
        check(
            self.lr >= 0.0 && self.lr.is_finite(),
            "lr",
            format!("must be a finite number ≥ 0, got {}", self.lr),
        )?;
        check(
            0.0 < self.etas.0 && self.etas.0 < 1.0 && 1.0 < self.etas.1,
            "etas",
            format!("need 0 < η₋ < 1 < η₊, got {:?}", self.etas),
        )
    }
    fn coefficients<T: Element>(&self, _step: u64, _s: &mut [f64]) -> Self::Coefficients<T> {
        RpropCoefficients {
            eta_minus: T::from_f64(self.etas.0),
            eta_plus: T::from_f64(self.etas.1),
            step_size_min: T::from_f64(self.step_sizes.0),
            step_size_max: T::from_f64(self.step_sizes.1),
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let (eminus, eplus) = (c.eta_minus, c.eta_plus);
        let prod = g * s[0];
        let factor = if prod > T::ZERO {
            eplus
        } else if prod < T::ZERO {
            eminus
        } else {
            T::ONE
        };
        let stepped = s[1] * factor;
        s[1] = stepped.max_nan(c.step_size_min).min_nan(c.step_size_max);
        let g = if factor == eminus { T::ZERO } else { g };
        *p += -sign(g) * s[1];
        s[0] = g;
    }
}

/// Lion, evolved sign momentum (Chen et al., 2023), with optax's semantics
/// (`optax.lion`: decoupled weight decay scaled by the learning rate):
///
/// u = sign((1−β1)g + β1m);  m ← (1−β2)g + β2m;  θ ← θ − α(u + λθ)
///
/// ```
/// use downhill::optim::Lion;
/// assert_eq!(Lion::default().betas, (0.9, 0.99));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lion {
    /// Learning rate α (default 1e-4).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.99)).
    pub betas: (f64, f64),
    /// Decoupled weight decay λ (default 1e-3, optax's).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Lion {
    fn default() -> Self {
        Lion {
            lr: 1e-4,
            betas: (0.9, 0.99),
            weight_decay: 1e-3,
            maximize: false,
        }
    }
}

config_builders!(Lion {
    lr: f64,
    betas: (f64, f64),
    weight_decay: f64,
    maximize: bool
});

hyperparameters!(Lion {
    lr,
    momentum: betas.0,
    maximize: maximize
});

/// The constants of one [`Lion`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct LionCoefficients<T> {
    /// α.
    pub lr: T,
    /// β1.
    pub beta1: T,
    /// β2.
    pub beta2: T,
    /// λ, decoupled and scaled by α inside the step (optax's).
    pub weight_decay: T,
}

impl Rule for Lion {
    const NAME: &'static str = "Lion";
    type Coefficients<T: Element> = LionCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["exp_avg"]
    }
    fn validate(&self) -> Result<()> {
        check(
            self.lr >= 0.0 && self.lr.is_finite(),
            "lr",
            format!("must be a finite number ≥ 0, got {}", self.lr),
        )?;
        check(
            (0.0..=1.0).contains(&self.betas.0) && (0.0..=1.0).contains(&self.betas.1),
            "betas",
            format!("must be in [0, 1], got {:?}", self.betas),
        )
    }
    fn coefficients<T: Element>(&self, _step: u64, _s: &mut [f64]) -> Self::Coefficients<T> {
        LionCoefficients {
            lr: T::from_f64(self.lr),
            beta1: T::from_f64(self.betas.0),
            beta2: T::from_f64(self.betas.1),
            weight_decay: T::from_f64(self.weight_decay),
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let (b1, b2) = (c.beta1, c.beta2);
        let u = sign((T::ONE - b1) * g + b1 * s[0]);
        s[0] = (T::ONE - b2) * g + b2 * s[0];
        let u = u + c.weight_decay * *p;
        *p += (-c.lr) * u;
    }
}
