//! The trainer's configuration, schedules, callbacks and report.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::history::EpochRecord;
use super::stopping::{DivergencePolicy, EarlyStopping, Monitor, StopReason};
use crate::data::BatchSize;
use crate::schedule::{LrScheduler, ReduceLROnPlateau};

/// How the run is set up. `TrainConfig::default()` is 10 epochs of
/// shuffled mini-batches of 32, monitoring the validation loss.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Epoch budget.
    pub epochs: usize,
    /// Optimizer-step budget (stops mid-epoch when reached).
    pub max_steps: Option<usize>,
    /// Samples per batch: `Full` is full-batch gradient descent, 1 stochastic.
    pub batch_size: BatchSize,
    /// Reshuffle the training samples every epoch.
    pub shuffle: bool,
    /// Drop the last incomplete batch of each epoch.
    pub drop_last: bool,
    /// Seed of the loader's shuffling generator.
    pub seed: u64,
    /// Batches whose gradients are summed (each loss scaled by 1/k) per optimizer step.
    pub accumulate: usize,
    /// Clip the gradients' global 2-norm to this before each step.
    pub clip_norm: Option<f64>,
    /// Clip every gradient element to ±this before each step.
    pub clip_value: Option<f64>,
    /// The metric for "best", early stopping and ReduceLROnPlateau.
    pub monitor: Monitor,
    /// Stop when the monitored metric plateaus.
    pub early_stopping: Option<EarlyStopping>,
    /// What to do when a step's loss or gradient is not finite or explodes.
    pub divergence: DivergencePolicy,
    /// A batch loss above this multiple of the run's first loss counts as divergence.
    pub explode_factor: f64,
    /// An epoch whose mean training loss is above this multiple of the run's
    /// first loss counts as divergence (the loss is rising, not falling).
    pub epoch_explode_factor: f64,
    /// Where checkpoints go (`epoch-NNNNNN.safetensors`, `best.safetensors`); none if `None`.
    pub checkpoint_dir: Option<PathBuf>,
    /// Write a checkpoint every this many epochs (and always at the end).
    pub checkpoint_every: usize,
    /// How many epoch checkpoints to keep (the oldest are removed).
    pub keep_last: usize,
    /// Rewrite this CSV file with the history after every epoch.
    pub history_csv: Option<PathBuf>,
    /// The loss is computed on scaled (standardized) targets while the
    /// metrics are in the target's units: the history names its loss
    /// columns `train_loss_scaled` and `val_loss_scaled` to say so.
    pub loss_is_scaled: bool,
    /// Show a progress bar (only ever drawn on a terminal).
    pub progress: bool,
    /// Print a summary line to standard error every this many epochs
    /// (and for the last); 0 = never.
    pub log_every: usize,
    /// Refuse to train when the run's estimated memory
    /// ([`Trainer::memory_estimate`](super::Trainer::memory_estimate)) is
    /// above this many bytes; `None` (default) compares with the memory
    /// still available ([`available_memory`](super::memory::available_memory));
    /// `Some(u64::MAX)` turns the check off.
    pub memory_limit: Option<u64>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            max_steps: None,
            batch_size: BatchSize::Size(32),
            shuffle: true,
            drop_last: false,
            seed: 0,
            accumulate: 1,
            clip_norm: None,
            clip_value: None,
            monitor: Monitor::default(),
            early_stopping: None,
            divergence: DivergencePolicy::Stop,
            explode_factor: 1e4,
            epoch_explode_factor: 10.0,
            checkpoint_dir: None,
            checkpoint_every: 1,
            keep_last: 3,
            history_csv: None,
            loss_is_scaled: false,
            progress: true,
            log_every: 0,
            memory_limit: None,
        }
    }
}

/// How the learning rate changes during the run.
pub enum Schedule {
    /// Constant.
    None,
    /// Stepped once per epoch (StepLR, CosineAnnealingLR, …).
    PerEpoch(Box<dyn LrScheduler>),
    /// Stepped once per optimizer step (OneCycleLR, CyclicLR, warm-ups counted in steps).
    PerStep(Box<dyn LrScheduler>),
    /// ReduceLROnPlateau, fed the monitored metric every epoch.
    Plateau(ReduceLROnPlateau),
}

/// Passed to [`Callback::on_step_end`].
#[derive(Clone, Debug)]
pub struct StepInfo {
    /// Epoch in progress, from 1.
    pub epoch: usize,
    /// Optimizer steps taken, this one included.
    pub step: usize,
    /// The step's loss (mean over its batches).
    pub loss: f64,
    /// Learning rate of the first group.
    pub lr: f64,
}

/// A callback's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop training (recorded as [`StopReason::Callback`]).
    Stop,
}

/// Passed to [`Callback::on_fit_start`].
#[derive(Clone, Debug)]
pub struct FitInfo {
    /// Training samples seen per epoch.
    pub samples_per_epoch: usize,
    /// Optimizer steps per epoch.
    pub steps_per_epoch: usize,
    /// The epoch budget.
    pub epochs: usize,
    /// Epochs already completed (a resumed run starts past 0).
    pub start_epoch: usize,
    /// Optimizer steps already taken.
    pub start_step: usize,
    /// Training seconds already counted (as in [`EpochRecord::seconds`]).
    pub start_seconds: f64,
    /// The monitored metric's name (`val_loss`, `train_loss`, …).
    pub monitor: String,
}

/// Passed to [`Callback::on_gradients`].
pub struct GradientInfo<'a> {
    /// Epoch in progress, from 1.
    pub epoch: usize,
    /// The step about to be taken (from 1).
    pub step: usize,
    /// True for the epoch's last step.
    pub last_in_epoch: bool,
    /// The (accumulated, clipped) gradients the optimizer is about to apply.
    pub grads: &'a crate::Gradients,
}

/// Hooks at the start and end of a fit and of every step and epoch; the
/// step and epoch hooks can stop training.
pub trait Callback: Send {
    /// Once at the start of [`Trainer::fit`](super::Trainer::fit).
    fn on_fit_start(&mut self, _info: &FitInfo) {}
    /// Before each optimizer step, with the gradients it applies.
    fn on_gradients(&mut self, _info: &GradientInfo) {}
    /// Once at the end of [`Trainer::fit`](super::Trainer::fit), with its report.
    fn on_fit_end(&mut self, _report: &Report) {}
    /// After each optimizer step.
    fn on_step_end(&mut self, _info: &StepInfo) -> Control {
        Control::Continue
    }
    /// After each epoch, with its record.
    fn on_epoch_end(&mut self, _record: &EpochRecord) -> Control {
        Control::Continue
    }
}

/// The outcome of [`Trainer::fit`](super::Trainer::fit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Why training ended.
    pub stopped_because: StopReason,
    /// Details: the divergent step and the learning rate to try, or the plateau.
    pub message: String,
    /// Epochs completed.
    pub epochs_run: usize,
    /// Optimizer steps taken.
    pub steps: usize,
    /// The epoch with the best monitored value (0 if none).
    pub best_epoch: usize,
    /// The best monitored value.
    pub best_value: Option<f64>,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
}
