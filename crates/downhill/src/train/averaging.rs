//! Weight averaging in the trainer ([`Trainer::with_averaging`](super::Trainer::with_averaging)): SWA or an
//! EMA of the weights kept beside the model, saved in checkpoints, and
//! swapped in (with the batch-norm statistics re-estimated) when a run ends.

use serde_json::Value;

use crate::optim::AveragedModel;
use crate::schedule::{AnnealStrategy, SwaLR};
use crate::Tensor;

/// Prefix of the averaged weights in a checkpoint (`averaged.{name}`, one
/// per model parameter, `{name}` as in the model's `state_dict`).
pub(super) const AVERAGED: &str = "averaged.";

/// Stochastic weight averaging in the trainer, as `torch.optim.swa_utils`'s
/// recipe runs it (Izmailov et al., 2018): after each epoch past `start`
/// the weights are averaged in with equal weights, and, with `lr`, a
/// [`SwaLR`] anneals the learning rate to `lr` over `anneal_epochs` epochs
/// in place of the trainer's own schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct SwaConfig {
    /// Epochs trained before averaging begins: the average is updated at the
    /// end of epochs `start + 1`, `start + 2`, … (torch's recipe's `if epoch
    /// > swa_start` with 0-based epochs and `swa_start = start − 1`).
    pub start: usize,
    /// SWALR's `swa_lr`: the learning rate from epoch `start + 1` on (none:
    /// the trainer's schedule goes on unchanged).
    pub lr: Option<f64>,
    /// SWALR's `anneal_epochs` (default 10, PyTorch's).
    pub anneal_epochs: usize,
    /// SWALR's `anneal_strategy` (default cos, PyTorch's).
    pub anneal_strategy: AnnealStrategy,
}

impl SwaConfig {
    /// SWA from after epoch `start`, without SWALR.
    pub fn new(start: usize) -> Self {
        SwaConfig {
            start,
            lr: None,
            anneal_epochs: 10,
            anneal_strategy: AnnealStrategy::Cos,
        }
    }

    /// With SWALR annealing to `lr`.
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = Some(lr);
        self
    }

    /// SWALR's annealing length in epochs.
    pub fn anneal_epochs(mut self, epochs: usize) -> Self {
        self.anneal_epochs = epochs;
        self
    }

    /// SWALR's annealing shape.
    pub fn anneal_strategy(mut self, strategy: AnnealStrategy) -> Self {
        self.anneal_strategy = strategy;
        self
    }
}

/// What [`Trainer::with_averaging`](super::Trainer::with_averaging) keeps an average of the weights by.
#[derive(Clone, Debug, PartialEq)]
pub enum WeightAveraging {
    /// SWA: an equal-weight average, updated once per epoch after
    /// [`SwaConfig::start`] — SWA averages points the (cyclic or constant)
    /// learning rate has carried apart, one per epoch, as the paper and
    /// torch's recipe do.
    Swa(SwaConfig),
    /// EMA: W̄ ← decay·W̄ + (1 − decay)·W after every optimizer step, from
    /// the first — torch's EMA recipe, which updates per step because the
    /// decay (0.999 and the like) sets a memory measured in steps.
    Ema {
        /// The decay, in [0, 1].
        decay: f64,
    },
}

impl WeightAveraging {
    /// The name in checkpoints and summaries: `swa` or `ema`.
    pub fn kind(&self) -> &'static str {
        match self {
            WeightAveraging::Swa(_) => "swa",
            WeightAveraging::Ema { .. } => "ema",
        }
    }
}

/// The trainer's averaging state.
pub(super) struct Averager {
    pub(super) config: WeightAveraging,
    /// The parameters' names in the model, in the averaged order.
    pub(super) names: Vec<String>,
    pub(super) model: AveragedModel,
    /// SWALR, built when SWA begins.
    pub(super) swalr: Option<SwaLR>,
    /// The trained weights (all of `state_dict`) while the averaged ones
    /// are swapped into the model (after a run ended).
    pub(super) raw: Option<Vec<(String, Tensor)>>,
}

/// A checkpoint's averaging state, checked, waiting to be applied.
#[derive(Default)]
pub(super) struct AveragingRestore {
    pub(super) values: Vec<Tensor>,
    pub(super) n_averaged: u64,
    pub(super) swalr: Value,
}
