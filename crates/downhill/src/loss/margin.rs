//! Margin and embedding losses: multi-margin, soft margin, multi-label soft
//! margin, margin ranking, cosine embedding, triplet.

use super::cross_entropy::{check_targets, to_rows};
use super::{as_dtype, index_target, same_shape, tensor_target, Loss, Reduction, Target};
use crate::Tensor;

/// `MultiMarginLoss`: ℓᵢ = Σ_{j≠yᵢ} w_{yᵢ}·max(0, margin − xᵢ,yᵢ + xᵢ,ⱼ)ᵖ / C, p ∈ {1, 2}.
#[derive(Clone, Debug)]
pub struct MultiMarginLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// 1 or 2 (default 1).
    pub p: u32,
    /// Margin (default 1).
    pub margin: f64,
    /// Per-class weights `[C]`.
    pub weight: Option<Tensor>,
}

impl Default for MultiMarginLoss {
    fn default() -> Self {
        MultiMarginLoss {
            reduction: Reduction::Mean,
            p: 1,
            margin: 1.0,
            weight: None,
        }
    }
}

impl MultiMarginLoss {
    /// The loss for scores [N, C] or `[C]` and class indices.
    ///
    /// **Panics** if p is not 1 or 2, or the targets do not fit.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, targets: &[usize]) -> Tensor {
        assert!(
            self.p == 1 || self.p == 2,
            "MultiMarginLoss: p must be 1 or 2, got {}",
            self.p
        );
        let (rows, out_shape) = to_rows("MultiMarginLoss", input, targets.len());
        let (n, c) = (rows.shape()[0], rows.shape()[1]);
        check_targets("MultiMarginLoss", targets, c, None);
        let xy = rows.gather(1, targets); // [N, 1]
        let z = (&rows - &xy).add_scalar(self.margin).relu();
        let z = if self.p == 2 { z.square() } else { z };
        let mut not_y = vec![1.0; n * c];
        for (i, &t) in targets.iter().enumerate() {
            not_y[i * c + t] = 0.0;
        }
        let mut terms = &z * &Tensor::from_f64_slice(&not_y, &[n, c], input.dtype());
        if let Some(w) = &self.weight {
            let wv = w.to_vec_f64();
            let wy: Vec<f64> = targets.iter().map(|&t| wv[t]).collect();
            terms = &terms * &Tensor::from_f64_slice(&wy, &[n, 1], input.dtype());
        }
        let per = terms.sum_dims(&[1], false).div_scalar(c as f64);
        match self.reduction {
            Reduction::None => per.reshape(&out_shape),
            r => r.apply(per),
        }
    }
}

impl Loss for MultiMarginLoss {
    fn name(&self) -> &'static str {
        "MultiMarginLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
        self.loss(input, index_target("MultiMarginLoss", target))
    }
}

/// `SoftMarginLoss` for labels y ∈ {−1, 1}: ℓ = ln(1 + e^(−y·x)).
#[derive(Clone, Debug, Default)]
pub struct SoftMarginLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
}

impl SoftMarginLoss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("SoftMarginLoss", input, target);
        self.reduction.apply(-(input * target).logsigmoid())
    }
}

impl Loss for SoftMarginLoss {
    fn name(&self) -> &'static str {
        "SoftMarginLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
        self.loss(input, tensor_target("SoftMarginLoss", target))
    }
}

/// `MultiLabelSoftMarginLoss` for 0/1 labels [N, C]:
/// ℓᵢ = −(1/C)·Σ_c w_c·(y·ln σ(x) + (1 − y)·ln σ(−x)).
#[derive(Clone, Debug, Default)]
pub struct MultiLabelSoftMarginLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Per-class weights `[C]`.
    pub weight: Option<Tensor>,
}

impl MultiLabelSoftMarginLoss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, input: &Tensor, target: &Tensor) -> Tensor {
        same_shape("MultiLabelSoftMarginLoss", input, target);
        let mut l = -(&(target * &input.logsigmoid())
            + &(target.rsub_scalar(1.0) * &input.neg().logsigmoid()));
        if let Some(w) = &self.weight {
            l = &l * &as_dtype(w, input);
        }
        let c = input.shape()[input.ndim() - 1];
        self.reduction
            .apply(l.sum_dims(&[-1], false).div_scalar(c as f64))
    }
}

impl Loss for MultiLabelSoftMarginLoss {
    fn name(&self) -> &'static str {
        "MultiLabelSoftMarginLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, _extra: &[&Tensor]) -> Tensor {
        self.loss(input, tensor_target("MultiLabelSoftMarginLoss", target))
    }
}

/// `MarginRankingLoss`: ℓ = max(0, −y·(x₁ − x₂) + margin) for y ∈ {−1, 1}.
#[derive(Clone, Debug, Default)]
pub struct MarginRankingLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Margin (default 0).
    pub margin: f64,
}

impl MarginRankingLoss {
    /// The loss.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, x1: &Tensor, x2: &Tensor, y: &Tensor) -> Tensor {
        same_shape("MarginRankingLoss", x1, x2);
        same_shape("MarginRankingLoss", x1, y);
        self.reduction.apply(
            (-(y * &(x1 - x2)))
                .add_scalar(self.margin)
                .clamp(0.0, f64::INFINITY),
        )
    }
}

impl Loss for MarginRankingLoss {
    fn name(&self) -> &'static str {
        "MarginRankingLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, extra: &[&Tensor]) -> Tensor {
        let y = extra
            .first()
            .expect("MarginRankingLoss: pass y as the first extra input");
        self.loss(input, tensor_target("MarginRankingLoss", target), y)
    }
}

/// `CosineEmbeddingLoss`: with cos = x₁·x₂/√((‖x₁‖² + 10⁻¹²)(‖x₂‖² + 10⁻¹²)),
/// ℓ = 1 − cos if y = 1, max(0, cos − margin) if y = −1.
#[derive(Clone, Debug, Default)]
pub struct CosineEmbeddingLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Margin (default 0).
    pub margin: f64,
}

impl CosineEmbeddingLoss {
    /// The loss for embeddings [N, D] (or `[D]`) and labels y `[N]`.
    ///
    /// **Panics** if the shapes do not fit.
    #[track_caller]
    pub fn loss(&self, x1: &Tensor, x2: &Tensor, y: &Tensor) -> Tensor {
        same_shape("CosineEmbeddingLoss", x1, x2);
        const EPSILON: f64 = 1e-12;
        let prod = (x1 * x2).sum_dims(&[-1], false);
        let m1 = (x1 * x1).sum_dims(&[-1], false).add_scalar(EPSILON);
        let m2 = (x2 * x2).sum_dims(&[-1], false).add_scalar(EPSILON);
        let cos = &prod / &(&m1 * &m2).sqrt();
        assert_eq!(
            y.shape(),
            cos.shape(),
            "CosineEmbeddingLoss: y shape {:?} does not match {:?}",
            y.shape(),
            cos.shape()
        );
        let zero = cos.zeros_like();
        let pos = cos.rsub_scalar(1.0);
        let neg = cos.sub_scalar(self.margin).clamp(0.0, f64::INFINITY);
        let is_pos = y.eq_elem(&Tensor::full(&[], 1.0, y.dtype()));
        let is_neg = y.eq_elem(&Tensor::full(&[], -1.0, y.dtype()));
        let l = &Tensor::where_(&is_pos, &pos, &zero) + &Tensor::where_(&is_neg, &neg, &zero);
        self.reduction.apply(l)
    }
}

impl Loss for CosineEmbeddingLoss {
    fn name(&self) -> &'static str {
        "CosineEmbeddingLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, extra: &[&Tensor]) -> Tensor {
        let y = extra
            .first()
            .expect("CosineEmbeddingLoss: pass y as the first extra input");
        self.loss(input, tensor_target("CosineEmbeddingLoss", target), y)
    }
}

/// `TripletMarginLoss`: ℓ = max(d(a, p) − d(a, n) + margin, 0) with
/// d(u, v) = ‖u − v + ε‖ₚ over the last dimension; `swap` uses
/// min(d(a, n), d(p, n)) as the negative distance.
#[derive(Clone, Debug)]
pub struct TripletMarginLoss {
    /// none | mean | sum.
    pub reduction: Reduction,
    /// Margin (default 1).
    pub margin: f64,
    /// Norm degree (default 2).
    pub p: f64,
    /// ε added to the difference (default 1e-6).
    pub eps: f64,
    /// The distance swap of Balntas et al. (default false).
    pub swap: bool,
}

impl Default for TripletMarginLoss {
    fn default() -> Self {
        TripletMarginLoss {
            reduction: Reduction::Mean,
            margin: 1.0,
            p: 2.0,
            eps: 1e-6,
            swap: false,
        }
    }
}

impl TripletMarginLoss {
    fn dist(&self, u: &Tensor, v: &Tensor) -> Tensor {
        let d = (u - v).add_scalar(self.eps);
        if self.p == 2.0 {
            d.square().sum_dims(&[-1], false).sqrt()
        } else if self.p == 1.0 {
            d.abs().sum_dims(&[-1], false)
        } else {
            d.abs()
                .powf(self.p)
                .sum_dims(&[-1], false)
                .powf(1.0 / self.p)
        }
    }

    /// The loss of anchors, positives and negatives (all [N, D] or `[D]`).
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn loss(&self, anchor: &Tensor, positive: &Tensor, negative: &Tensor) -> Tensor {
        same_shape("TripletMarginLoss", anchor, positive);
        same_shape("TripletMarginLoss", anchor, negative);
        let dp = self.dist(anchor, positive);
        let mut dn = self.dist(anchor, negative);
        if self.swap {
            dn = dn.minimum(&self.dist(positive, negative));
        }
        self.reduction.apply(
            (&dp - &dn)
                .add_scalar(self.margin)
                .clamp(0.0, f64::INFINITY),
        )
    }
}

impl Loss for TripletMarginLoss {
    fn name(&self) -> &'static str {
        "TripletMarginLoss"
    }
    fn forward(&self, input: &Tensor, target: Target<'_>, extra: &[&Tensor]) -> Tensor {
        let n = extra
            .first()
            .expect("TripletMarginLoss: pass the negatives as the first extra input");
        self.loss(input, tensor_target("TripletMarginLoss", target), n)
    }
}
