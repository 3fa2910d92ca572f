//! Plain gradient descent (the textbook rule) and SGD with momentum.

use serde::{Deserialize, Serialize};

use super::check;
use super::elementwise::{config_builders, Rule};
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

impl Rule for GradientDescent {
    const NAME: &'static str = "GradientDescent";
    fn buffers(&self) -> usize {
        0
    }
    fn validate(&self) -> Result<()> {
        check(
            self.lr >= 0.0 && self.lr.is_finite(),
            "lr",
            format!("must be a finite number ≥ 0, got {}", self.lr),
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
        [self.lr, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    }
    // θ ← θ − α·g
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, _s: &mut [T]) {
        *p += (-c[0]) * g;
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

impl Rule for Sgd {
    const NAME: &'static str = "SGD";
    fn buffers(&self) -> usize {
        1
    }
    fn init_scalars(&self) -> Vec<f64> {
        vec![0.0] // 1 once the momentum buffer holds a value
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
    fn coefficients(&self, _step: u64, s: &mut [f64]) -> [f64; 8] {
        let first = if self.momentum != 0.0 && s[0] == 0.0 {
            s[0] = 1.0;
            1.0
        } else {
            0.0
        };
        let nesterov = if self.nesterov { 1.0 } else { 0.0 };
        [
            self.lr,
            self.momentum,
            1.0 - self.dampening,
            self.weight_decay,
            first,
            nesterov,
            0.0,
            0.0,
        ]
    }
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]) {
        let mut g = g;
        if c[3] != T::ZERO {
            g += *p * c[3];
        }
        if c[1] != T::ZERO {
            s[0] = if c[4] != T::ZERO {
                g
            } else {
                s[0] * c[1] + g * c[2]
            };
            g = if c[5] != T::ZERO {
                g + s[0] * c[1]
            } else {
                s[0]
            };
        }
        *p += g * (-c[0]);
    }
}
