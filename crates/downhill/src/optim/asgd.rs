//! Averaged SGD.

use serde::{Deserialize, Serialize};

use super::check;
use super::elementwise::{config_builders, Rule};
use super::hyper::{hyperparameters, WeightDecay};
use crate::tensor::Element;
use crate::Result;

/// Averaged stochastic gradient descent (Polyak & Juditsky, 1992), `torch.optim.ASGD`:
///
/// g ← ∇L + λθ;  θ ← θ(1 − ληₜ) − ηₜg;  a ← a + μₜ(θ − a) (a = θ while μₜ = 1);
/// ηₜ₊₁ = γ/(1 + λγt)^α,  μₜ₊₁ = 1/max(1, t − t₀)
///
/// (the weight-decay λ in the first line is `weight_decay`, the one in θ(1 − ληₜ) is `lambd`;
/// the average `a` is kept in the state, as PyTorch's `ax`).
///
/// ```
/// use downhill::optim::Asgd;
/// assert_eq!(Asgd::default().t0, 1e6);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Asgd {
    /// Learning rate γ (default 0.01).
    pub lr: f64,
    /// Decay term λ (default 1e-4).
    pub lambd: f64,
    /// Power α of the η update (default 0.75).
    pub alpha: f64,
    /// Step at which averaging starts (default 1e6).
    pub t0: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Asgd {
    fn default() -> Self {
        Asgd {
            lr: 1e-2,
            lambd: 1e-4,
            alpha: 0.75,
            t0: 1e6,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

config_builders!(Asgd {
    lr: f64,
    lambd: f64,
    alpha: f64,
    t0: f64,
    weight_decay: f64,
    maximize: bool
});

hyperparameters!(Asgd {
    lr,
    maximize: maximize
});

/// The constants of one [`Asgd`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct AsgdCoefficients<T> {
    /// ηₜ.
    pub eta: T,
    /// μₜ (1: the average is θ itself).
    pub mu: T,
    /// L2 penalty on the gradient (`weight_decay`).
    pub weight_decay: WeightDecay<T>,
    /// 1 − ληₜ (λ `lambd`).
    pub decay: T,
}

impl Rule for Asgd {
    const NAME: &'static str = "ASGD";
    type Coefficients<T: Element> = AsgdCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["ax"]
    }
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        vec![("eta", self.lr), ("mu", 1.0)]
    }
    fn validate(&self) -> Result<()> {
        check(
            self.lr >= 0.0 && self.lr.is_finite(),
            "lr",
            format!("must be a finite number ≥ 0, got {}", self.lr),
        )?;
        check(
            self.weight_decay >= 0.0,
            "weight_decay",
            format!("must be ≥ 0, got {}", self.weight_decay),
        )
    }
    fn coefficients<T: Element>(&self, step: u64, s: &mut [f64]) -> Self::Coefficients<T> {
        let (eta, mu) = (s[0], s[1]);
        let t = step as f64;
        s[0] = self.lr / (1.0 + self.lambd * self.lr * t).powf(self.alpha);
        s[1] = 1.0 / f64::max(1.0, t - self.t0);
        AsgdCoefficients {
            eta: T::from_f64(eta),
            mu: T::from_f64(mu),
            weight_decay: WeightDecay::coupled(self.weight_decay),
            decay: T::from_f64(1.0 - self.lambd * eta),
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let g = c.weight_decay.apply(p, g);
        *p *= c.decay;
        *p += (-c.eta) * g;
        s[0] = if c.mu != T::ONE {
            s[0] + (*p - s[0]) * c.mu
        } else {
            *p
        };
    }
}
