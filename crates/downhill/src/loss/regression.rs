//! Regression losses: MSE, L1, smooth L1, Huber, Poisson NLL, Gaussian NLL.

use serde::{Deserialize, Serialize};

use super::{same_shape, tensor_target, Loss, Reduction, Target};
use crate::Tensor;

macro_rules! simple_loss {
    ($ty:ident, $name:literal) => {
        impl Loss for $ty {
            fn name(&self) -> &'static str {
                $name
            }
            fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
                self.loss(input, tensor_target($name, target))
            }
        }
    };
}

/// Mean squared error, `MSELoss`: ℓᵢ = (xᵢ − yᵢ)².
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MseLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
}

impl MseLoss {
    /// The loss; `input` and `target` have the same shape.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("MSELoss", input, target);
        self.reduction.apply((input - target).square())
    }
}
simple_loss!(MseLoss, "MSELoss");

/// Mean absolute error, `L1Loss`: ℓᵢ = |xᵢ − yᵢ|.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct L1Loss {
    /// none | mean | sum.
    pub reduction: Reduction,
}

impl L1Loss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("L1Loss", input, target);
        self.reduction.apply((input - target).abs())
    }
}
simple_loss!(L1Loss, "L1Loss");

/// `SmoothL1Loss`: with z = |x − y|, ℓ = z²/(2β) if z < β, else z − β/2 (β = 0 is L1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmoothL1Loss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// β (default 1).
    pub beta: f64,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss {
            reduction: Reduction::Mean,
            beta: 1.0,
        }
    }
}

impl SmoothL1Loss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("SmoothL1Loss", input, target);
        let z = (input - target).abs();
        if self.beta == 0.0 {
            return self.reduction.apply(z);
        }
        let small = z.lt(&Tensor::full(&[], self.beta, z.dtype()));
        let quad = z.square().mul_scalar(0.5).div_scalar(self.beta);
        let lin = z.sub_scalar(0.5 * self.beta);
        self.reduction.apply(Tensor::where_(&small, &quad, &lin))
    }
}
simple_loss!(SmoothL1Loss, "SmoothL1Loss");

/// `HuberLoss`: with z = |x − y|, ℓ = z²/2 if z < δ, else δ(z − δ/2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HuberLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// δ (default 1).
    pub delta: f64,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss {
            reduction: Reduction::Mean,
            delta: 1.0,
        }
    }
}

impl HuberLoss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("HuberLoss", input, target);
        let z = (input - target).abs();
        let small = z.lt(&Tensor::full(&[], self.delta, z.dtype()));
        let quad = z.square().mul_scalar(0.5);
        let lin = z.sub_scalar(0.5 * self.delta).mul_scalar(self.delta);
        self.reduction.apply(Tensor::where_(&small, &quad, &lin))
    }
}
simple_loss!(HuberLoss, "HuberLoss");

/// `PoissonNLLLoss`: ℓ = eˣ − y·x (log_input) or x − y·ln(x + ε); `full` adds
/// Stirling's term y·ln y − y + ½ln(2πy) where y > 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoissonNllLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// The input is the log of the rate (default true).
    pub log_input: bool,
    /// Add Stirling's approximation term (default false).
    pub full: bool,
    /// Added inside the log when `log_input` is false (default 1e-8).
    pub eps: f64,
}

impl Default for PoissonNllLoss {
    fn default() -> Self {
        PoissonNllLoss {
            reduction: Reduction::Mean,
            log_input: true,
            full: false,
            eps: 1e-8,
        }
    }
}

impl PoissonNllLoss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("PoissonNLLLoss", input, target);
        let mut l = if self.log_input {
            input.exp() - target * input
        } else {
            input - &(target * &input.add_scalar(self.eps).log())
        };
        if self.full {
            let y = target.to_vec_f64();
            let stirling: Vec<f64> = y
                .iter()
                .map(|&t| {
                    if t > 1.0 {
                        t * t.ln() - t + 0.5 * (2.0 * std::f64::consts::PI * t).ln()
                    } else {
                        0.0
                    }
                })
                .collect();
            l = &l + &Tensor::from_f64_slice(&stirling, target.shape(), input.dtype());
        }
        self.reduction.apply(l)
    }
}
simple_loss!(PoissonNllLoss, "PoissonNLLLoss");

/// `GaussianNLLLoss`: ℓ = ½(ln max(σ², ε) + (x − y)²/max(σ², ε)) (+ ½ln 2π if
/// `full`); the clamp of the variance passes gradients through unchanged, as in PyTorch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GaussianNllLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Add the constant (default false).
    pub full: bool,
    /// Lower clamp of the variance (default 1e-6).
    pub eps: f64,
}

impl Default for GaussianNllLoss {
    fn default() -> Self {
        GaussianNllLoss {
            reduction: Reduction::Mean,
            full: false,
            eps: 1e-6,
        }
    }
}

impl GaussianNllLoss {
    /// The loss of mean `input` with variance `var` (the input's shape, or
    /// one fewer trailing dimension, or a last dimension of 1).
    ///
    /// **Panics** if the shapes do not fit.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor, var: &Tensor) -> Tensor {
        same_shape("GaussianNLLLoss", input, target);
        let var = if var.ndim() + 1 == input.ndim() {
            var.unsqueeze(-1)
        } else {
            var.clone()
        };
        assert!(
            var.shape() == input.shape()
                || (var.ndim() == input.ndim() && var.shape()[var.ndim() - 1] == 1),
            "GaussianNLLLoss: var shape {:?} does not fit input shape {:?}",
            var.shape(),
            input.shape()
        );
        // clamp without changing the gradient: var + (clamp(var) − var) held constant
        let clamped = &var + &crate::no_grad(|| var.clamp(self.eps, f64::INFINITY) - &var);
        let mut l = (clamped.log() + (input - target).square() / &clamped).mul_scalar(0.5);
        if self.full {
            l = l.add_scalar(0.5 * (2.0 * std::f64::consts::PI).ln());
        }
        self.reduction.apply(l)
    }
}

impl Loss for GaussianNllLoss {
    fn name(&self) -> &'static str {
        "GaussianNLLLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, extra: &[&Tensor]) -> Tensor {
        let var = extra
            .first()
            .expect("GaussianNLLLoss: pass the variance as the first extra input");
        self.loss(input, tensor_target("GaussianNLLLoss", target), var)
    }
}
