//! The flags of `downhill train` and the settings they resolve to.

use std::path::PathBuf;

use downhill::data::{BatchSize, ScalerKind, Task};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{CliError, Result};
use crate::opt_args::{parse_key_values, OptimizerArgs};
use crate::spec::{activation, ACTIVATIONS};

/// Flags of `downhill train` (every one can also come from `--config`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TrainArgs {
    /// A CSV, NPY, NPZ or Parquet file, or a built-in dataset: iris, digits, diabetes, penguins [default: digits]
    #[arg(long)]
    pub data: Option<String>,
    /// Target column name(s), comma-separated [default: the last column; penguins: species]
    #[arg(long)]
    pub target: Option<String>,
    /// Columns to one-hot encode whatever they hold, comma-separated
    #[arg(long, value_name = "COL,...")]
    pub categorical: Option<String>,
    /// Columns to read as numbers (a cell that is not one is an error), comma-separated
    #[arg(long, value_name = "COL,...")]
    pub numeric: Option<String>,
    /// Columns to leave out, comma-separated
    #[arg(long, value_name = "COL,...")]
    pub drop: Option<String>,
    /// Cell texts read as missing, comma-separated ("" = only empty cells) [default: "",NA,N/A,NaN,nan,null,NULL,None,?]
    #[arg(long = "na-values", value_name = "TOKENS")]
    pub na_values: Option<String>,
    /// Most one-hot columns per text column; the rarest categories beyond share an "other" column [default: 32]
    #[arg(long = "max-categories", value_name = "N")]
    pub max_categories: Option<usize>,
    /// classification or regression [default: inferred from the target]
    #[arg(long)]
    pub task: Option<String>,
    /// Hidden layer widths, e.g. 64,32 ("" for none: a linear model) [default: 128]
    #[arg(long)]
    pub hidden: Option<String>,
    /// Activation between layers (relu, tanh, gelu, silu, ...) [default: relu]
    #[arg(long)]
    pub activation: Option<String>,
    /// Dropout probability after each hidden layer [default: 0]
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Loss (PyTorch name) [default: CrossEntropyLoss or MSELoss]
    #[arg(long)]
    pub loss: Option<String>,
    /// A loss option by PyTorch's name: --loss-opt label_smoothing=0.1
    #[arg(long = "loss-opt", value_name = "NAME=VALUE")]
    pub loss_opt: Vec<String>,
    #[command(flatten)]
    pub opt: OptimizerArgs,
    /// Stochastic weight averaging after epoch E: --swa start=E,lr=X,anneal_epochs=K,anneal=cos|linear (only start is required; lr= anneals to X with SWALR); the averaged weights are saved
    #[arg(long, value_name = "start=E,...", num_args = 0..=1, default_missing_value = "")]
    pub swa: Option<String>,
    /// An exponential moving average of the weights, updated every step: --ema decay=0.999; the averaged weights are saved
    #[arg(long, value_name = "decay=D", num_args = 0..=1, default_missing_value = "")]
    pub ema: Option<String>,
    /// Learning-rate schedule (PyTorch name: StepLR, CosineAnnealingLR, OneCycleLR, ReduceLROnPlateau, ...)
    #[arg(long)]
    pub schedule: Option<String>,
    /// A schedule parameter by PyTorch's name: --sched step_size=10 --sched gamma=0.5
    #[arg(long = "sched", value_name = "NAME=VALUE")]
    pub sched: Vec<String>,
    /// Samples per step: full (full-batch), 1 (stochastic) or N (mini-batch) [default: 32]
    #[arg(long = "batch-size")]
    pub batch_size: Option<String>,
    /// Epoch budget [default: 100]
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Optimizer-step budget
    #[arg(long = "max-steps")]
    pub max_steps: Option<usize>,
    /// Stop when the monitored metric has not improved for this many epochs (restores the best weights)
    #[arg(long = "early-stopping", value_name = "PATIENCE")]
    pub early_stopping: Option<usize>,
    /// Metric for early stopping and ReduceLROnPlateau [default: val_loss]
    #[arg(long)]
    pub monitor: Option<String>,
    /// Seed of the split, initialization, shuffling and dropout [default: 0]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads [default: all cores]
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run directory [default: runs/<date-time>]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A TOML file with any of these settings (flags override it)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Continue the run whose checkpoints are in DIR (a run directory, its checkpoints/, or a checkpoint file)
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Fraction of the rows held out for validation [default: 0.1]
    #[arg(long = "val-split")]
    pub val_split: Option<f64>,
    /// Fraction of the rows held out for the final test [default: 0.2]
    #[arg(long = "test-split")]
    pub test_split: Option<f64>,
    /// Feature scaling fitted on the training rows: standard, minmax or none [default: standard]
    #[arg(long)]
    pub scaler: Option<String>,
    /// Clip the gradient norm to this before each step
    #[arg(long = "clip-norm")]
    pub clip_norm: Option<f64>,
    /// Batches per optimizer step (gradient accumulation) [default: 1]
    #[arg(long)]
    pub accumulate: Option<usize>,
    /// Write a checkpoint every N epochs [default: 1]
    #[arg(long = "checkpoint-every")]
    pub checkpoint_every: Option<usize>,
    /// Epoch checkpoints to keep [default: 3]
    #[arg(long = "keep-checkpoints")]
    pub keep_checkpoints: Option<usize>,
    /// On a non-finite or exploding loss: stop, or rollback (halve the learning rate and redo the epoch, up to 5 times) [default: rollback]
    #[arg(long = "on-divergence")]
    pub on_divergence: Option<String>,
    /// No progress bar or per-epoch lines
    #[arg(long)]
    pub quiet: bool,
    /// Do not write TensorBoard event files into RUN_DIR/tensorboard/
    #[arg(long = "no-tensorboard")]
    pub no_tensorboard: bool,
    /// Also log histograms of every weight and gradient to TensorBoard every N epochs
    #[arg(long = "tensorboard-histograms", value_name = "N")]
    pub tensorboard_histograms: Option<usize>,
}

/// Every setting of a run, resolved; saved in checkpoints so `--resume`
/// rebuilds the same run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    /// The data: a built-in name, or a file's absolute path.
    pub(crate) data: String,
    /// [`crate::resume::fingerprint`] of the data file (absent for built-in
    /// data and in checkpoints written before it existed).
    #[serde(default)]
    pub(crate) data_hash: Option<String>,
    pub(crate) target: Vec<String>,
    #[serde(default)]
    pub(crate) categorical: Vec<String>,
    #[serde(default)]
    pub(crate) numeric: Vec<String>,
    #[serde(default)]
    pub(crate) drop: Vec<String>,
    #[serde(default)]
    pub(crate) na_values: Option<Vec<String>>,
    #[serde(default = "default_max_categories")]
    pub(crate) max_categories: usize,
    pub(crate) task: Option<Task>,
    pub(crate) hidden: Vec<usize>,
    pub(crate) activation: String,
    pub(crate) dropout: f64,
    pub(crate) loss: Option<String>,
    pub(crate) loss_options: Map<String, Value>,
    pub(crate) optimizer: String,
    pub(crate) hyper: Value,
    pub(crate) schedule: Option<String>,
    pub(crate) sched: Map<String, Value>,
    pub(crate) batch_size: BatchSize,
    pub(crate) epochs: usize,
    pub(crate) max_steps: Option<usize>,
    pub(crate) early_stopping: Option<usize>,
    pub(crate) monitor: String,
    pub(crate) seed: u64,
    pub(crate) val_split: f64,
    pub(crate) test_split: f64,
    pub(crate) scaler: ScalerKind,
    pub(crate) clip_norm: Option<f64>,
    pub(crate) accumulate: usize,
    pub(crate) checkpoint_every: usize,
    pub(crate) keep_checkpoints: usize,
    pub(crate) on_divergence: String,
    /// `--swa` / `--ema` (absent in checkpoints written before them).
    #[serde(default)]
    pub(crate) averaging: Option<crate::averaging_args::AveragingSetting>,
}

fn default_max_categories() -> usize {
    downhill::data::DEFAULT_MAX_CATEGORIES
}

/// A comma-separated list of column names (empty names left out).
fn names(v: &Option<String>) -> Vec<String> {
    v.as_deref()
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn fraction(flag: &str, v: Option<f64>, default: f64) -> Result<f64> {
    let v = v.unwrap_or(default);
    if !(0.0..1.0).contains(&v) {
        return Err(CliError::flag(flag, format!("must be in [0, 1), got {v}")));
    }
    Ok(v)
}

pub(crate) fn at_least_one(flag: &str, v: Option<usize>, default: usize) -> Result<usize> {
    match v.unwrap_or(default) {
        0 => Err(CliError::flag(flag, "must be at least 1")),
        n => Ok(n),
    }
}

impl Settings {
    /// Resolves the flags (and config file) into settings, defaults applied.
    ///
    /// **Errors** naming the flag of an invalid value.
    pub fn resolve(a: &TrainArgs) -> Result<Settings> {
        let hidden = match a.hidden.as_deref().map(str::trim) {
            None => vec![128],
            Some("") => vec![],
            Some(h) => h
                .split(',')
                .map(|w| match w.trim().parse::<usize>() {
                    Ok(0) | Err(_) => Err(CliError::flag(
                        "--hidden",
                        format!("expected widths ≥ 1 separated by commas (e.g. 64,32), got {h:?}"),
                    )),
                    Ok(n) => Ok(n),
                })
                .collect::<Result<_>>()?,
        };
        let act = a.activation.clone().unwrap_or_else(|| "relu".into());
        if activation(&act).is_none() {
            return Err(CliError::flag(
                "--activation",
                format!(
                    "unknown activation {act:?}; expected one of {}",
                    ACTIVATIONS.join(", ")
                ),
            ));
        }
        let dropout = a.dropout.unwrap_or(0.0);
        if !(0.0..1.0).contains(&dropout) {
            return Err(CliError::flag(
                "--dropout",
                format!("must be in [0, 1), got {dropout}"),
            ));
        }
        let task = a
            .task
            .as_deref()
            .map(|t| t.parse::<Task>().map_err(|m| CliError::flag("--task", m)))
            .transpose()?;
        let (optimizer, hyper) = a.opt.resolve("Adam", 1e-3)?;
        let batch_size = match &a.batch_size {
            None => BatchSize::Size(32),
            Some(b) => b
                .parse::<BatchSize>()
                .map_err(|m| CliError::flag("--batch-size", m))?,
        };
        let scaler = match &a.scaler {
            None => ScalerKind::Standard,
            Some(s) => s
                .parse()
                .map_err(|m: String| CliError::flag("--scaler", m))?,
        };
        let on_divergence = a.on_divergence.clone().unwrap_or_else(|| "rollback".into());
        if !matches!(on_divergence.as_str(), "stop" | "rollback") {
            return Err(CliError::flag(
                "--on-divergence",
                format!("expected stop or rollback, got {on_divergence:?}"),
            ));
        }
        if let Some(c) = a.clip_norm {
            if !(c > 0.0 && c.is_finite()) {
                return Err(CliError::flag(
                    "--clip-norm",
                    format!("must be a positive number, got {c}"),
                ));
            }
        }
        if a.threads == Some(0) {
            return Err(CliError::flag("--threads", "must be at least 1"));
        }
        let val_split = fraction("--val-split", a.val_split, 0.1)?;
        let test_split = fraction("--test-split", a.test_split, 0.2)?;
        if val_split + test_split >= 0.95 {
            return Err(CliError::flag(
                "--val-split",
                format!("validation {val_split} + test {test_split} leave too few training rows"),
            ));
        }
        let monitor = a.monitor.clone().unwrap_or_else(|| "val_loss".into());
        let known = [
            "loss",
            "accuracy",
            "f1_macro",
            "precision_macro",
            "recall_macro",
            "rmse",
            "mae",
            "r2",
        ];
        let ok = monitor == "train_loss"
            || monitor
                .strip_prefix("val_")
                .is_some_and(|m| known.contains(&m));
        if !ok {
            return Err(CliError::flag(
                "--monitor",
                format!(
                    "unknown metric {monitor:?}; expected train_loss or val_ followed by one of {}",
                    known.join(", ")
                ),
            ));
        }
        let epochs = at_least_one("--epochs", a.epochs, 100)?;
        let averaging = crate::averaging_args::resolve(a.swa.as_deref(), a.ema.as_deref(), epochs)?;
        Ok(Settings {
            data: a.data.clone().unwrap_or_else(|| "digits".into()),
            data_hash: None,
            target: names(&a.target),
            categorical: names(&a.categorical),
            numeric: names(&a.numeric),
            drop: names(&a.drop),
            na_values: a
                .na_values
                .as_deref()
                .map(|t| t.split(',').map(|s| s.trim().to_string()).collect()),
            max_categories: at_least_one(
                "--max-categories",
                a.max_categories,
                default_max_categories(),
            )?,
            task,
            hidden,
            activation: act,
            dropout,
            loss: a.loss.clone(),
            loss_options: parse_key_values("--loss-opt", &a.loss_opt)?,
            optimizer,
            hyper,
            schedule: a.schedule.clone(),
            sched: parse_key_values("--sched", &a.sched)?,
            batch_size,
            epochs,
            max_steps: a.max_steps,
            early_stopping: a.early_stopping,
            monitor,
            seed: a.seed.unwrap_or(0),
            val_split,
            test_split,
            scaler,
            clip_norm: a.clip_norm,
            accumulate: at_least_one("--accumulate", a.accumulate, 1)?,
            checkpoint_every: at_least_one("--checkpoint-every", a.checkpoint_every, 1)?,
            keep_checkpoints: at_least_one("--keep-checkpoints", a.keep_checkpoints, 3)?,
            on_divergence,
            averaging,
        })
    }
}
