//! Adam and its relatives: AdamW, Adamax, NAdam, RAdam.

use serde::{Deserialize, Serialize};

use super::check;
use super::elementwise::{config_builders, lerp, Rule};
use super::hyper::{hyperparameters, WeightDecay};
use crate::tensor::Element;
use crate::Result;

fn check_adam(lr: f64, betas: (f64, f64), eps: f64, wd: f64) -> Result<()> {
    check(
        lr >= 0.0 && lr.is_finite(),
        "lr",
        format!("must be a finite number ≥ 0, got {lr}"),
    )?;
    check(
        (0.0..1.0).contains(&betas.0),
        "betas",
        format!("beta1 must be in [0, 1), got {}", betas.0),
    )?;
    check(
        (0.0..1.0).contains(&betas.1),
        "betas",
        format!("beta2 must be in [0, 1), got {}", betas.1),
    )?;
    check(eps >= 0.0, "eps", format!("must be ≥ 0, got {eps}"))?;
    check(wd >= 0.0, "weight_decay", format!("must be ≥ 0, got {wd}"))
}

/// The constants of one Adam/AdamW step (Kingma & Ba, 2015; Loshchilov &
/// Hutter, 2019), from the formula θ ← θ − α/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε).
#[derive(Clone, Copy, Debug)]
pub struct AdamCoefficients<T> {
    /// λ: coupled for Adam, decoupled (θ ← θ(1 − αλ)) for AdamW.
    pub weight_decay: WeightDecay<T>,
    /// 1 − β1, the weight of g in m's lerp.
    pub one_minus_beta1: T,
    /// β2.
    pub beta2: T,
    /// 1 − β2.
    pub one_minus_beta2: T,
    /// ε.
    pub eps: T,
    /// −α/(1−β1ᵗ).
    pub neg_step_size: T,
    /// √(1−β2ᵗ).
    pub bias_correction2_sqrt: T,
    /// Keep the running maximum of v (amsgrad).
    pub amsgrad: bool,
}

/// The shared Adam/AdamW step.
#[inline(always)]
fn adam_update<T: Element>(c: &AdamCoefficients<T>, p: &mut T, g: T, s: &mut [T]) {
    let g = c.weight_decay.apply(p, g);
    s[0] = lerp(s[0], g, c.one_minus_beta1);
    s[1] = s[1] * c.beta2 + c.one_minus_beta2 * g * g;
    let v = if c.amsgrad {
        s[2] = s[2].max_nan(s[1]);
        s[2]
    } else {
        s[1]
    };
    let denom = v.sqrt() / c.bias_correction2_sqrt + c.eps;
    *p += c.neg_step_size * (s[0] / denom);
}

#[allow(clippy::too_many_arguments)]
fn adam_coefficients<T: Element>(
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    wd: f64,
    decoupled: bool,
    amsgrad: bool,
    step: u64,
) -> AdamCoefficients<T> {
    let step = step as f64;
    let bc1 = 1.0 - betas.0.powf(step);
    let bc2 = 1.0 - betas.1.powf(step);
    AdamCoefficients {
        weight_decay: WeightDecay::new(lr, wd, decoupled),
        one_minus_beta1: T::from_f64(1.0 - betas.0),
        beta2: T::from_f64(betas.1),
        one_minus_beta2: T::from_f64(1.0 - betas.1),
        eps: T::from_f64(eps),
        neg_step_size: T::from_f64(-(lr / bc1)),
        bias_correction2_sqrt: T::from_f64(bc2.sqrt()),
        amsgrad,
    }
}

macro_rules! adam_like {
    ($ty:ident, $name:literal, $wd_default:expr, $decoupled:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct $ty {
            /// Learning rate α (default 0.001).
            pub lr: f64,
            /// Decay rates (β1, β2) of the moment estimates (default (0.9, 0.999)).
            pub betas: (f64, f64),
            /// Added to the denominator (default 1e-8).
            pub eps: f64,
            /// Weight decay λ.
            pub weight_decay: f64,
            /// Use the maximum of past second moments (Reddi et al., 2018).
            pub amsgrad: bool,
            /// Ascend instead of descend.
            pub maximize: bool,
        }

        impl Default for $ty {
            fn default() -> Self {
                $ty {
                    lr: 1e-3,
                    betas: (0.9, 0.999),
                    eps: 1e-8,
                    weight_decay: $wd_default,
                    amsgrad: false,
                    maximize: false,
                }
            }
        }

        config_builders!($ty {
            lr: f64,
            betas: (f64, f64),
            eps: f64,
            weight_decay: f64,
            amsgrad: bool,
            maximize: bool
        });

        hyperparameters!($ty {
            lr,
            momentum: betas.0,
            maximize: maximize
        });

        impl Rule for $ty {
            const NAME: &'static str = $name;
            type Coefficients<T: Element> = AdamCoefficients<T>;
            fn slots(&self) -> &'static [&'static str] {
                if self.amsgrad {
                    &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
                } else {
                    &["exp_avg", "exp_avg_sq"]
                }
            }
            fn validate(&self) -> Result<()> {
                check_adam(self.lr, self.betas, self.eps, self.weight_decay)
            }
            fn coefficients<T: Element>(&self, step: u64, _s: &mut [f64]) -> AdamCoefficients<T> {
                adam_coefficients(
                    self.lr,
                    self.betas,
                    self.eps,
                    self.weight_decay,
                    $decoupled,
                    self.amsgrad,
                    step,
                )
            }
            fn update<T: Element>(&self, c: &AdamCoefficients<T>, p: &mut T, g: T, s: &mut [T]) {
                adam_update(c, p, g, s)
            }
        }
    };
}

adam_like!(
    Adam,
    "Adam",
    0.0,
    false,
    "Adam (Kingma & Ba, 2015), `torch.optim.Adam`:\n\n\
     g ← ∇L + λθ;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  \
     (amsgrad: v̂ ← max(v̂, v));\n\
     θ ← θ − α/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)\n\n\
     ```\nuse downhill::optim::{Adam, Optimizer};\nlet opt = Adam::default().lr(1e-2).betas((0.9, 0.99)).build(vec![]).unwrap();\nassert_eq!(opt.name(), \"Adam\");\n```"
);

adam_like!(
    AdamW,
    "AdamW",
    1e-2,
    true,
    "AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019), `torch.optim.AdamW`:\n\n\
     θ ← θ(1 − αλ), then Adam's update without the L2 term (default λ = 0.01).\n\n\
     ```\nuse downhill::optim::{AdamW, Optimizer};\nlet opt = AdamW::default().weight_decay(0.1).build(vec![]).unwrap();\nassert_eq!(opt.name(), \"AdamW\");\n```"
);

/// Adamax, Adam with the infinity norm (Kingma & Ba, 2015), `torch.optim.Adamax`:
///
/// g ← ∇L + λθ;  m ← β1·m + (1−β1)·g;  u ← max(β2·u, |g| + ε);  θ ← θ − α/(1−β1ᵗ) · m/u
///
/// ```
/// use downhill::optim::{Adamax, Optimizer};
/// assert_eq!(Adamax::default().lr, 2e-3);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Adamax {
    /// Learning rate α (default 0.002).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to |g| (default 1e-8).
    pub eps: f64,
    /// L2 penalty λ (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adamax {
    fn default() -> Self {
        Adamax {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

config_builders!(Adamax {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    maximize: bool
});

hyperparameters!(Adamax {
    lr,
    momentum: betas.0,
    maximize: maximize
});

/// The constants of one [`Adamax`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct AdamaxCoefficients<T> {
    /// α/(1−β1ᵗ).
    pub step_size: T,
    /// β1.
    pub beta1: T,
    /// β2.
    pub beta2: T,
    /// ε.
    pub eps: T,
    /// λ (coupled).
    pub weight_decay: WeightDecay<T>,
}

impl Rule for Adamax {
    const NAME: &'static str = "Adamax";
    type Coefficients<T: Element> = AdamaxCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_inf"]
    }
    fn validate(&self) -> Result<()> {
        check_adam(self.lr, self.betas, self.eps, self.weight_decay)
    }
    fn coefficients<T: Element>(&self, step: u64, _s: &mut [f64]) -> Self::Coefficients<T> {
        let clr = self.lr / (1.0 - self.betas.0.powf(step as f64));
        AdamaxCoefficients {
            step_size: T::from_f64(clr),
            beta1: T::from_f64(self.betas.0),
            beta2: T::from_f64(self.betas.1),
            eps: T::from_f64(self.eps),
            weight_decay: WeightDecay::coupled(self.weight_decay),
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let g = c.weight_decay.apply(p, g);
        s[0] = lerp(s[0], g, T::ONE - c.beta1);
        s[1] = (s[1] * c.beta2).max_nan(g.abs() + c.eps);
        *p += (-c.step_size) * (s[0] / s[1]);
    }
}

/// NAdam, Adam with Nesterov momentum (Dozat, 2016), `torch.optim.NAdam`:
///
/// μₜ = β1(1 − ½·0.96^(tψ)), Πₜ = ∏μ;  m, v as in Adam;  v̂ = √(v/(1−β2ᵗ)) + ε;
/// θ ← θ − α(1−μₜ)/(1−Πₜ) · g/v̂ − αμₜ₊₁/(1−Πₜμₜ₊₁) · m/v̂
///
/// (ψ `momentum_decay`; `decoupled_weight_decay` applies θ ← θ(1 − αλ) instead of g + λθ.)
///
/// ```
/// use downhill::optim::NAdam;
/// assert_eq!(NAdam::default().momentum_decay, 4e-3);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NAdam {
    /// Learning rate α (default 0.002).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// Weight decay λ (default 0).
    pub weight_decay: f64,
    /// ψ (default 0.004).
    pub momentum_decay: f64,
    /// AdamW-style weight decay (default false).
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for NAdam {
    fn default() -> Self {
        NAdam {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

config_builders!(NAdam {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    momentum_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool
});

hyperparameters!(NAdam {
    lr,
    momentum: betas.0,
    maximize: maximize
});

/// The constants of one [`NAdam`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct NAdamCoefficients<T> {
    /// −α(1−μₜ)/(1−Πₜ), the factor of g/v̂.
    pub grad_factor: T,
    /// −αμₜ₊₁/(1−Πₜμₜ₊₁), the factor of m/v̂.
    pub momentum_factor: T,
    /// 1 − β2ᵗ.
    pub bias_correction2: T,
    /// β1.
    pub beta1: T,
    /// β2.
    pub beta2: T,
    /// ε.
    pub eps: T,
    /// λ, coupled or decoupled.
    pub weight_decay: WeightDecay<T>,
}

impl Rule for NAdam {
    const NAME: &'static str = "NAdam";
    type Coefficients<T: Element> = NAdamCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        vec![("mu_product", 1.0)]
    }
    fn validate(&self) -> Result<()> {
        check_adam(self.lr, self.betas, self.eps, self.weight_decay)?;
        check(
            self.momentum_decay >= 0.0,
            "momentum_decay",
            format!("must be ≥ 0, got {}", self.momentum_decay),
        )
    }
    fn coefficients<T: Element>(&self, step: u64, s: &mut [f64]) -> Self::Coefficients<T> {
        let (b1, b2) = self.betas;
        let t = step as f64;
        let bc2 = 1.0 - b2.powf(t);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        s[0] *= mu;
        let mu_product = s[0];
        let mu_product_next = mu_product * mu_next;
        NAdamCoefficients {
            grad_factor: T::from_f64(-self.lr * (1.0 - mu) / (1.0 - mu_product)),
            momentum_factor: T::from_f64((-self.lr * mu_next) / (1.0 - mu_product_next)),
            bias_correction2: T::from_f64(bc2),
            beta1: T::from_f64(b1),
            beta2: T::from_f64(b2),
            eps: T::from_f64(self.eps),
            weight_decay: WeightDecay::new(self.lr, self.weight_decay, self.decoupled_weight_decay),
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let g = c.weight_decay.apply(p, g);
        s[0] = lerp(s[0], g, T::ONE - c.beta1);
        s[1] = s[1] * c.beta2 + (T::ONE - c.beta2) * g * g;
        let denom = (s[1] / c.bias_correction2).sqrt() + c.eps;
        *p += c.grad_factor * (g / denom);
        *p += c.momentum_factor * (s[0] / denom);
    }
}

/// RAdam, rectified Adam (Liu et al., 2020), `torch.optim.RAdam`:
///
/// ρ∞ = 2/(1−β2) − 1, ρₜ = ρ∞ − 2tβ2ᵗ/(1−β2ᵗ);  m̂ = m/(1−β1ᵗ);
/// if ρₜ > 5: θ ← θ − α·m̂·√(1−β2ᵗ)/(√v + ε)·rₜ with
/// rₜ = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ)); else θ ← θ − α·m̂.
///
/// ```
/// use downhill::optim::RAdam;
/// assert_eq!(RAdam::default().lr, 1e-3);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RAdam {
    /// Learning rate α (default 0.001).
    pub lr: f64,
    /// (β1, β2) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// Weight decay λ (default 0).
    pub weight_decay: f64,
    /// AdamW-style weight decay (default false).
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for RAdam {
    fn default() -> Self {
        RAdam {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

config_builders!(RAdam {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    decoupled_weight_decay: bool,
    maximize: bool
});

hyperparameters!(RAdam {
    lr,
    momentum: betas.0,
    maximize: maximize
});

/// The constants of one [`RAdam`] step (names from its formula).
#[derive(Clone, Copy, Debug)]
pub struct RAdamCoefficients<T> {
    /// 1 − β1ᵗ.
    pub bias_correction1: T,
    /// √(1−β2ᵗ).
    pub bias_correction2_sqrt: T,
    /// rₜ when ρₜ > 5, else −1 (no adaptive term).
    pub rect: T,
    /// β1.
    pub beta1: T,
    /// β2.
    pub beta2: T,
    /// ε.
    pub eps: T,
    /// α.
    pub lr: T,
    /// λ, coupled or decoupled.
    pub weight_decay: WeightDecay<T>,
}

impl Rule for RAdam {
    const NAME: &'static str = "RAdam";
    type Coefficients<T: Element> = RAdamCoefficients<T>;
    fn slots(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }
    fn validate(&self) -> Result<()> {
        check_adam(self.lr, self.betas, self.eps, self.weight_decay)
    }
    fn coefficients<T: Element>(&self, step: u64, _s: &mut [f64]) -> Self::Coefficients<T> {
        let (b1, b2) = self.betas;
        let t = step as f64;
        let bc1 = 1.0 - b1.powf(t);
        let bc2 = 1.0 - b2.powf(t);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t * b2.powf(t) / bc2;
        let rect = if rho_t > 5.0 {
            ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt()
        } else {
            -1.0
        };
        RAdamCoefficients {
            bias_correction1: T::from_f64(bc1),
            bias_correction2_sqrt: T::from_f64(bc2.sqrt()),
            rect: T::from_f64(rect),
            beta1: T::from_f64(b1),
            beta2: T::from_f64(b2),
            eps: T::from_f64(self.eps),
            lr: T::from_f64(self.lr),
            weight_decay: WeightDecay::new(self.lr, self.weight_decay, self.decoupled_weight_decay),
        }
    }
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]) {
        let g = c.weight_decay.apply(p, g);
        s[0] = lerp(s[0], g, T::ONE - c.beta1);
        s[1] = s[1] * c.beta2 + (T::ONE - c.beta2) * g * g;
        let m_hat = s[0] / c.bias_correction1;
        if c.rect > T::ZERO {
            let adaptive = c.bias_correction2_sqrt / (s[1].sqrt() + c.eps);
            *p -= m_hat * c.lr * adaptive * c.rect;
        } else {
            *p -= m_hat * c.lr;
        }
    }
}
