//! Plain gradient descent (the textbook rule) and SGD with momentum.

use serde::{Deserialize, Serialize};

use super::check;
use super::elementwise::{config_builders, Rule};
use super::hyper::{hyperparameters, WeightDecay};
use crate::tensor::Element;
use crate::Result;

/// Plain gradient descent: θ ← θ − α·∇L(θ) (Cauchy, 1847). The seeds' rule.
///
/// ```
/// use downhill::optim::{GradientDescent, Optimizer};
/// use downhill::Tensor;
/// // f(x) = 2x² from x = 1 with α = 0.1: 0.6, then 0.36
/// let x = Tensor::scalar(1.0f64).requires_grad_(true);
/// let mut opt = GradientDescent::default().lr(0.1).build(vec![x.clone()]).unwrap();
/// opt.step(&x.square().mul_scalar(2.0).backward());
/// assert!((x.item() - 0.6).abs() < 1e-15);
/// opt.step(&x.square().mul_scalar(2.0).backward());
/// assert!((x.item() - 0.36).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GradientDescent {
    /// Learning rate α (default 0.01).
    pub lr: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for GradientDescent {
    fn default() -> Self {
        GradientDescent {
            lr: 0.01,
            maximize: false,
        }
    }
}

config_builders!(GradientDescent {
    lr: f64,
    maximize: bool
});

hyperparameters!(GradientDescent {
    lr,
    maximize: maximize
});

/// The constant of [`GradientDescent`]'s step: θ ← θ − α·g.
#[derive(Clone, Copy, Debug)]
pub struct GradientDescentCoefficients<T> {
    /// α.
    pub lr: T,
}

impl Rule for GradientDescent {
    const NAME: &'static str = "GradientDescent";
    type Coefficients<T: Element> = GradientDescentCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &[]
    }
    fn validate(&self) -> Result<()> {
        check(
            self.lr >= 0.0 && self.lr.is_finite(),
            "lr",
            format!("must be a finite number ≥ 0, got {}", self.lr),
        )
    }
    fn coefficients<T: Element>(&self, _step: u64, _s: &mut [f64]) -> Self::Coefficients<T> {
        GradientDescentCoefficients {
            lr: T::from_f64(self.lr),
        }
    }
    // θ ← θ − α·g
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, _s: &mut [T]) {
        *p += (-c.lr) * g;
    }
}

/// Stochastic gradient descent with momentum (Polyak, 1964; Nesterov, 1983),
/// `torch.optim.SGD`:
///
/// g ← ∇L(θ) + λθ;  b ← g at the first step, else b ← μb + (1 − τ)g;
/// g ← g + μb if nesterov, else g ← b;  θ ← θ − αg
///
/// (λ `weight_decay`, μ `momentum`, τ `dampening`, α `lr`.)
///
/// ```
/// use downhill::optim::{Sgd, Optimizer};
/// use downhill::Tensor;
/// let w = Tensor::scalar(1.0f64).requires_grad_(true);
/// let mut opt = Sgd::default().lr(0.1).momentum(0.9).build(vec![w.clone()]).unwrap();
/// opt.step(&w.square().backward());      // b = 2, w = 1 − 0.2
/// assert!((w.item() - 0.8).abs() < 1e-15);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sgd {
    /// Learning rate α (default 0.001, PyTorch's).
    pub lr: f64,
    /// Momentum factor μ (default 0).
    pub momentum: f64,
    /// Dampening τ of the momentum (default 0).
    pub dampening: f64,
    /// L2 penalty λ added to the gradient (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (default false).
    pub nesterov: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

config_builders!(Sgd {
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool
});

hyperparameters!(Sgd {
    lr,
    momentum: momentum,
    maximize: maximize
});

/// The constants of one [`Sgd`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct SgdCoefficients<T> {
    /// α.
    pub lr: T,
    /// μ.
    pub momentum: T,
    /// 1 − τ.
    pub one_minus_dampening: T,
    /// λ (coupled).
    pub weight_decay: WeightDecay<T>,
    /// The momentum buffer starts as the gradient at this step.
    pub first: bool,
    /// Nesterov momentum.
    pub nesterov: bool,
}

impl Rule for Sgd {
    const NAME: &'static str = "SGD";
    type Coefficients<T: Element> = SgdCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["momentum_buffer"]
    }
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        vec![("momentum_started", 0.0)] // 1 once the momentum buffer holds a value
    }
    fn validate(&self) -> Result<()> {
        check(
            self.lr >= 0.0 && self.lr.is_finite(),
            "lr",
            format!("must be a finite number ≥ 0, got {}", self.lr),
        )?;
        check(
            self.momentum >= 0.0,
            "momentum",
            format!("must be ≥ 0, got {}", self.momentum),
        )?;
        check(
            self.weight_decay >= 0.0,
            "weight_decay",
            format!("must be ≥ 0, got {}", self.weight_decay),
        )?;
        check(
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            "nesterov",
            "requires a momentum and zero dampening",
        )
    }
    fn coefficients<T: Element>(&self, _step: u64, s: &mut [f64]) -> Self::Coefficients<T> {
        let first = self.momentum != 0.0 && s[0] == 0.0;
        if first {
            s[0] = 1.0;
        }
        SgdCoefficients {
            lr: T::from_f64(self.lr),
            momentum: T::from_f64(self.momentum),
            one_minus_dampening: T::from_f64(1.0 - self.dampening),
            weight_decay: WeightDecay::coupled(self.weight_decay),
            first,
            nesterov: self.nesterov,
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let mut g = c.weight_decay.apply(p, g);
        if c.momentum != T::ZERO {
            s[0] = if c.first {
                g
            } else {
                s[0] * c.momentum + g * c.one_minus_dampening
            };
            g = if c.nesterov {
                g + s[0] * c.momentum
            } else {
                s[0]
            };
        }
        *p += g * (-c.lr);
    }
}
