//! Probabilistic classification losses: BCE, BCE with logits, NLL, KL divergence.

use super::cross_entropy::{check_targets, to_rows};
use super::{as_dtype, index_target, same_shape, tensor_target, Loss, Reduction, Target};
use crate::Tensor;

/// `BCELoss` on probabilities x ∈ [0, 1]: ℓ = −w·(y·ln x + (1 − y)·ln(1 − x)),
/// each log clamped at −100 as PyTorch does.
#[derive(Clone, Debug, Default)]
pub struct BceLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Weight broadcast over the elements.
    pub weight: Option<Tensor>,
}

impl BceLoss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("BCELoss", input, target);
        let lx = input.log().clamp(-100.0, f64::INFINITY);
        let l1x = input.rsub_scalar(1.0).log().clamp(-100.0, f64::INFINITY);
        let mut l = -(target * &lx + &(target.rsub_scalar(1.0) * &l1x));
        if let Some(w) = &self.weight {
            l = &l * &as_dtype(w, input);
        }
        self.reduction.apply(l)
    }
}

impl Loss for BceLoss {
    fn name(&self) -> &'static str {
        "BCELoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
        self.loss(input, tensor_target("BCELoss", target))
    }
}

/// `BCEWithLogitsLoss`: ℓ = w·((1 − y)·x − (1 + (p − 1)y)·ln σ(x)), p the
/// `pos_weight` of each class (broadcast over the last dimension); stable for
/// logits of any size.
#[derive(Clone, Debug, Default)]
pub struct BceWithLogitsLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Weight broadcast over the elements.
    pub weight: Option<Tensor>,
    /// Weight of positive examples per class.
    pub pos_weight: Option<Tensor>,
}

impl BceWithLogitsLoss {
    /// The loss on logits.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("BCEWithLogitsLoss", input, target);
        let log_sig = input.logsigmoid();
        let lw = match &self.pos_weight {
            Some(p) => (target * &as_dtype(p, input).sub_scalar(1.0)).add_scalar(1.0),
            None => target.ones_like(),
        };
        let mut l = &(target.rsub_scalar(1.0) * input) - &(&lw * &log_sig);
        if let Some(w) = &self.weight {
            l = &l * &as_dtype(w, input);
        }
        self.reduction.apply(l)
    }
}

impl Loss for BceWithLogitsLoss {
    fn name(&self) -> &'static str {
        "BCEWithLogitsLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
        self.loss(input, tensor_target("BCEWithLogitsLoss", target))
    }
}

/// `NLLLoss` on log-probabilities: ℓᵢ = −w_{yᵢ}·xᵢ,yᵢ (0 if ignored); `mean`
/// divides by Σ w_{yᵢ} over the samples not ignored.
#[derive(Clone, Debug, Default)]
pub struct NllLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Per-class weights `[C]`.
    pub weight: Option<Tensor>,
    /// A class index whose samples are skipped.
    pub ignore_index: Option<usize>,
}

impl NllLoss {
    /// The loss for log-probabilities `[C]`, [N, C] or [N, C, d…].
    ///
    /// **Panics** if the targets do not match the input or are out of range.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, targets: &[usize]) -> Tensor {
        let (rows, out_shape) = to_rows("NLLLoss", input, targets.len());
        let c = rows.shape()[1];
        check_targets("NLLLoss", targets, c, self.ignore_index);
        let wv = self.weight.as_ref().map(|w| w.to_vec_f64());
        let wt: Vec<f64> = targets
            .iter()
            .map(|&t| {
                if Some(t) == self.ignore_index {
                    0.0
                } else {
                    wv.as_ref().map_or(1.0, |w| w[t])
                }
            })
            .collect();
        let safe: Vec<usize> = targets.iter().map(|&t| if t < c { t } else { 0 }).collect();
        let picked = rows.gather(1, &safe).reshape(&[targets.len()]);
        let wt_t = Tensor::from_f64_slice(&wt, &[targets.len()], input.dtype());
        let per = -(&picked * &wt_t);
        match self.reduction {
            Reduction::None => per.reshape(&out_shape),
            Reduction::Sum => per.sum(),
            _ => per.sum().div_scalar(wt.iter().sum()),
        }
    }
}

impl Loss for NllLoss {
    fn name(&self) -> &'static str {
        "NLLLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
        self.loss(input, index_target("NLLLoss", target))
    }
}

/// `KLDivLoss` of log-probabilities x against y: ℓ = y·(ln y − x) (0 where
/// y = 0), or e^y·(y − x) with `log_target`; `batchmean` divides by the batch size.
#[derive(Clone, Debug, Default)]
pub struct KlDivLoss {
    /// none | mean | sum | batchmean.
    pub reduction: Reduction,
    /// The target is given as log-probabilities.
    pub log_target: bool,
}

impl KlDivLoss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("KLDivLoss", input, target);
        let l = if self.log_target {
            &target.exp() * &(target - input)
        } else {
            let ylogy: Vec<f64> = target
                .to_vec_f64()
                .iter()
                .map(|&y| if y == 0.0 { 0.0 } else { y * y.ln() })
                .collect();
            &Tensor::from_f64_slice(&ylogy, target.shape(), input.dtype()) - &(target * input)
        };
        self.reduction.apply(l)
    }
}

impl Loss for KlDivLoss {
    fn name(&self) -> &'static str {
        "KLDivLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
        self.loss(input, tensor_target("KLDivLoss", target))
    }
}
