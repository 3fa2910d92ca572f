//! Why training stops, and early stopping on a monitored metric.

use serde::{Deserialize, Serialize};

/// Whether a smaller or a larger metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Smaller is better (losses, errors).
    Min,
    /// Larger is better (accuracy, F1, R²).
    Max,
}

/// The metric that decides "best" and plateaus: `val_loss`, `val_accuracy`,
/// `train_loss`, … (`val_` metrics need a validation set).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// Metric name, `train_` or `val_` followed by a metric (`val_f1_macro`).
    pub metric: String,
    /// Whether it should go down or up.
    pub mode: Mode,
}

impl Monitor {
    /// Monitors `metric` with the mode its name implies (`loss`, `rmse` and
    /// `mae` go down; `accuracy`, `f1_macro`, `r2`, … go up).
    pub fn new(metric: &str) -> Self {
        let down = ["loss", "rmse", "mae"].iter().any(|m| metric.ends_with(m));
        Monitor {
            metric: metric.to_string(),
            mode: if down { Mode::Min } else { Mode::Max },
        }
    }

    /// Whether `new` improves on `best` by more than `min_delta`.
    pub fn improves(&self, new: f64, best: Option<f64>, min_delta: f64) -> bool {
        match best {
            None => new.is_finite(),
            Some(b) => match self.mode {
                Mode::Min => new < b - min_delta,
                Mode::Max => new > b + min_delta,
            },
        }
    }
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor::new("val_loss")
    }
}

/// Early stopping (Keras/Lightning semantics): stop when the monitored
/// metric has not improved by more than `min_delta` for `patience` epochs;
/// optionally put back the weights of the best epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// The smallest change that counts as an improvement.
    pub min_delta: f64,
    /// Restore the best epoch's parameters and buffers when training ends.
    pub restore_best: bool,
}

impl EarlyStopping {
    /// Stops after `patience` epochs without improvement, restoring the best weights.
    pub fn new(patience: usize) -> Self {
        EarlyStopping {
            patience,
            min_delta: 0.0,
            restore_best: true,
        }
    }
}

/// Why training ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The epoch or step budget was used up.
    Budget,
    /// The monitored metric stopped improving (early stopping).
    Plateau,
    /// A non-finite or exploding loss or gradient could not be recovered from.
    Divergence,
    /// A callback asked to stop.
    Callback,
    /// The interrupt flag was set ([`Trainer::with_interrupt`](super::Trainer::with_interrupt)):
    /// the run stopped after a step, resumable from its checkpoint.
    Interrupted,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Budget => "budget",
            StopReason::Plateau => "plateau",
            StopReason::Divergence => "divergence",
            StopReason::Callback => "callback",
            StopReason::Interrupted => "interrupted",
        })
    }
}

/// What to do when a step's loss or gradient is not finite (or the loss
/// explodes): the step is never applied either way.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum DivergencePolicy {
    /// Stop training, reporting the step and a smaller learning rate to try.
    Stop,
    /// Go back to the state at the start of the epoch, halve every learning
    /// rate, and redo the epoch — at most `max_retries` times in a run.
    Rollback {
        /// How many rollbacks are allowed before stopping.
        max_retries: usize,
    },
}
