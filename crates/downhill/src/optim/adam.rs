//! Adam and its relatives: AdamW, Adamax, NAdam, RAdam.

use serde::{Deserialize, Serialize};

use super::check;
use super::elementwise::{config_builders, lerp, Rule};
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

/// The shared Adam/AdamW step (Kingma & Ba, 2015; Loshchilov & Hutter, 2019).
/// c = [1 − αλ (decoupled decay), 1 − β1, β2, 1 − β2, ε, −step_size, √bc2, λ (L2)]
#[inline(always)]
fn adam_update<T: Element>(c: &[T; 8], amsgrad: bool, p: &mut T, g: T, s: &mut [T]) {
    let mut g = g;
    if c[7] != T::ZERO {
        g += *p * c[7];
    }
    if c[0] != T::ONE {
        *p *= c[0];
    }
    s[0] = lerp(s[0], g, c[1]);
    s[1] = s[1] * c[2] + c[3] * g * g;
    let v = if amsgrad {
        s[2] = s[2].max_nan(s[1]);
        s[2]
    } else {
        s[1]
    };
    let denom = v.sqrt() / c[6] + c[4];
    *p += c[5] * (s[0] / denom);
}

fn adam_coefficients(
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    wd: f64,
    decoupled: bool,
    step: u64,
) -> [f64; 8] {
    let step = step as f64;
    let bc1 = 1.0 - betas.0.powf(step);
    let bc2 = 1.0 - betas.1.powf(step);
    let (decay, l2) = if decoupled {
        (1.0 - lr * wd, 0.0)
    } else {
        (1.0, wd)
    };
    [
        decay,
        1.0 - betas.0,
        betas.1,
        1.0 - betas.1,
        eps,
        -(lr / bc1),
        bc2.sqrt(),
        l2,
    ]
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

        impl Rule for $ty {
            const NAME: &'static str = $name;
            fn buffers(&self) -> usize {
                if self.amsgrad {
                    3
                } else {
                    2
                }
            }
            fn validate(&self) -> Result<()> {
                check_adam(self.lr, self.betas, self.eps, self.weight_decay)
            }
            fn lr(&self) -> f64 {
                self.lr
            }
            fn set_lr(&mut self, lr: f64) {
                self.lr = lr;
            }
            fn momentum(&self) -> Option<f64> {
                Some(self.betas.0)
            }
            fn set_momentum(&mut self, m: f64) {
                self.betas.0 = m;
            }
            fn maximize(&self) -> bool {
                self.maximize
            }
            fn coefficients(&self, step: u64, _s: &mut [f64]) -> [f64; 8] {
                adam_coefficients(
                    self.lr,
                    self.betas,
                    self.eps,
                    self.weight_decay,
                    $decoupled,
                    step,
                )
            }
            fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]) {
                adam_update(c, self.amsgrad, p, g, s)
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

impl Rule for Adamax {
    const NAME: &'static str = "Adamax";
    fn buffers(&self) -> usize {
        2
    }
    fn validate(&self) -> Result<()> {
        check_adam(self.lr, self.betas, self.eps, self.weight_decay)
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.betas.0)
    }
    fn set_momentum(&mut self, m: f64) {
        self.betas.0 = m;
    }
    fn maximize(&self) -> bool {
        self.maximize
    }
    fn coefficients(&self, step: u64, _s: &mut [f64]) -> [f64; 8] {
        let clr = self.lr / (1.0 - self.betas.0.powf(step as f64));
        [
            clr,
            self.betas.0,
            self.betas.1,
            self.eps,
            self.weight_decay,
            0.0,
            0.0,
            0.0,
        ]
    }
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]) {
        let mut g = g;
        if c[4] != T::ZERO {
            g += *p * c[4];
        }
        s[0] = lerp(s[0], g, T::ONE - c[1]);
        s[1] = (s[1] * c[2]).max_nan(g.abs() + c[3]);
        *p += (-c[0]) * (s[0] / s[1]);
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

impl Rule for NAdam {
    const NAME: &'static str = "NAdam";
    fn buffers(&self) -> usize {
        2
    }
    fn init_scalars(&self) -> Vec<f64> {
        vec![1.0] // μ product
    }
    fn validate(&self) -> Result<()> {
        check_adam(self.lr, self.betas, self.eps, self.weight_decay)?;
        check(
            self.momentum_decay >= 0.0,
            "momentum_decay",
            format!("must be ≥ 0, got {}", self.momentum_decay),
        )
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.betas.0)
    }
    fn set_momentum(&mut self, m: f64) {
        self.betas.0 = m;
    }
    fn maximize(&self) -> bool {
        self.maximize
    }
    fn coefficients(&self, step: u64, s: &mut [f64]) -> [f64; 8] {
        let (b1, b2) = self.betas;
        let t = step as f64;
        let bc2 = 1.0 - b2.powf(t);
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        s[0] *= mu;
        let mu_product = s[0];
        let mu_product_next = mu_product * mu_next;
        let c1 = -self.lr * (1.0 - mu) / (1.0 - mu_product);
        let c2 = (-self.lr * mu_next) / (1.0 - mu_product_next);
        [
            c1,
            c2,
            bc2,
            b1,
            b2,
            self.eps,
            self.weight_decay,
            1.0 - self.lr * self.weight_decay,
        ]
    }
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]) {
        let mut g = g;
        if self.weight_decay != 0.0 {
            if self.decoupled_weight_decay {
                *p *= c[7];
            } else {
                g += *p * c[6];
            }
        }
        s[0] = lerp(s[0], g, T::ONE - c[3]);
        s[1] = s[1] * c[4] + (T::ONE - c[4]) * g * g;
        let denom = (s[1] / c[2]).sqrt() + c[5];
        *p += c[0] * (g / denom);
        *p += c[1] * (s[0] / denom);
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

impl Rule for RAdam {
    const NAME: &'static str = "RAdam";
    fn buffers(&self) -> usize {
        2
    }
    fn validate(&self) -> Result<()> {
        check_adam(self.lr, self.betas, self.eps, self.weight_decay)
    }
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> Option<f64> {
        Some(self.betas.0)
    }
    fn set_momentum(&mut self, m: f64) {
        self.betas.0 = m;
    }
    fn maximize(&self) -> bool {
        self.maximize
    }
    fn coefficients(&self, step: u64, _s: &mut [f64]) -> [f64; 8] {
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
        [
            bc1,
            bc2.sqrt(),
            rect,
            b1,
            b2,
            self.eps,
            self.lr,
            1.0 - self.lr * self.weight_decay,
        ]
    }
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]) {
        let mut g = g;
        if self.weight_decay != 0.0 {
            if self.decoupled_weight_decay {
                *p *= c[7];
            } else {
                g += *p * T::from_f64(self.weight_decay);
            }
        }
        s[0] = lerp(s[0], g, T::ONE - c[3]);
        s[1] = s[1] * c[4] + (T::ONE - c[4]) * g * g;
        let m_hat = s[0] / c[0];
        if c[2] > T::ZERO {
            let adaptive = c[1] / (s[1].sqrt() + c[5]);
            *p -= m_hat * c[6] * adaptive * c[2];
        } else {
            *p -= m_hat * c[6];
        }
    }
}
