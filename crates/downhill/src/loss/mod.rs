//! Losses: the discrepancy between predictions and targets, with PyTorch's
//! semantics, options and reductions (every file of the PyTorch reference
//! values is a test), and regularization penalties.
//!
//! ```
//! use downhill::loss::{CrossEntropyLoss, MseLoss};
//! use downhill::Tensor;
//! let pred = Tensor::from_vec(vec![0.5f64, 1.5], &[2]);
//! let target = Tensor::from_vec(vec![1.0f64, 1.0], &[2]);
//! assert_eq!(MseLoss::default().loss(&pred, &target).item(), 0.25);
//!
//! let logits = Tensor::from_vec(vec![2.0f64, 0.0, 0.0, 2.0], &[2, 2]);
//! let ce = CrossEntropyLoss::default().loss(&logits, &[0, 1]);
//! assert!((ce.item() - (1.0 + (-2.0f64).exp()).ln()).abs() < 1e-12);
//! ```

mod classification;
mod config;
mod cross_entropy;
mod margin;
mod on_logits;
mod regression;
pub mod regularization;

pub use classification::{BceLoss, BceWithLogitsLoss, KlDivLoss, NllLoss};
pub use config::{from_config, parameters, NAMES};
pub use cross_entropy::CrossEntropyLoss;
pub use margin::{
    CosineEmbeddingLoss, MarginRankingLoss, MultiLabelSoftMarginLoss, MultiMarginLoss,
    SoftMarginLoss, TripletMarginLoss,
};
pub use on_logits::LogSoftmaxThen;
pub use regression::{GaussianNllLoss, HuberLoss, L1Loss, MseLoss, PoissonNllLoss, SmoothL1Loss};
pub use regularization::Penalty;

/// What a loss compares its input with; defined in [`crate::data`] (batches
/// carry it) and re-exported here, so `data` does not depend on `loss`.
pub use crate::data::Target;

use serde::{Deserialize, Serialize};

use crate::Tensor;

/// How per-element losses combine into the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// Keep one loss per element (or sample).
    None,
    /// Average (PyTorch's default; weighted losses divide by the total weight).
    #[default]
    Mean,
    /// Sum.
    Sum,
    /// Sum divided by the batch size (KLDivLoss only).
    BatchMean,
}

impl Reduction {
    pub(crate) fn apply(self, x: Tensor) -> Tensor {
        match self {
            Reduction::None => x,
            Reduction::Mean => x.mean(),
            Reduction::Sum => x.sum(),
            Reduction::BatchMean => {
                let n = if x.ndim() == 0 { 1 } else { x.shape()[0] };
                x.sum().div_scalar(n as f64)
            }
        }
    }
}

/// Any loss, for code that picks one at run time (the CLI, configs).
pub trait Loss: Send + Sync {
    /// PyTorch's name (`"CrossEntropyLoss"`).
    fn name(&self) -> &'static str;
    /// The loss of `input` against `target`; `extra` holds the further inputs
    /// some losses take (GaussianNLLLoss: `var`; MarginRankingLoss and
    /// CosineEmbeddingLoss: `y`; TripletMarginLoss: `negative`), in that order.
    ///
    /// **Panics** on shape mismatches or a target of the wrong kind.
    fn forward(&self, input: &Tensor, target: Target<'_>, extra: &[&Tensor]) -> Tensor;
}

#[track_caller]
pub(crate) fn tensor_target<'a>(name: &str, t: Target<'a>) -> &'a Tensor {
    match t {
        Target::Tensor(t) => t,
        Target::Indices(_) => panic!("{name}: expects a target tensor, got class indices"),
    }
}

#[track_caller]
pub(crate) fn index_target<'a>(name: &str, t: Target<'a>) -> &'a [usize] {
    match t {
        Target::Indices(i) => i,
        Target::Tensor(_) => panic!("{name}: expects class indices, got a tensor"),
    }
}

#[track_caller]
pub(crate) fn same_shape(name: &str, a: &Tensor, b: &Tensor) {
    assert!(
        a.shape() == b.shape(),
        "{name}: input shape {:?} and target shape {:?} differ",
        a.shape(),
        b.shape()
    );
}

/// `w` converted to `like`'s dtype (weights are configured in f64).
pub(crate) fn as_dtype(w: &Tensor, like: &Tensor) -> Tensor {
    w.to_dtype(like.dtype())
}
