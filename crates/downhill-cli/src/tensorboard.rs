//! TensorBoard for the CLI: the callback `downhill train` writes into
//! `RUN_DIR/tensorboard/` (hyperparameters for the HParams tab, histograms
//! with `--tensorboard-histograms N`, the test metrics at the end), and the
//! trajectory `downhill minimize --tensorboard DIR` writes.

use std::path::Path;

use downhill::data::{BatchSize, Dataset, Task};
use downhill::train::tensorboard::{
    session_end_value, wall_time, EventWriter, HParams, SessionStatus,
};
use downhill::train::{Metrics, TensorBoard, Trainer};
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::prepare::Prepared;
use crate::rundir::RunDir;
use crate::settings::{Settings, TrainArgs};

/// The hyperparameter columns of a `downhill train` run.
pub fn train_hparams(s: &Settings, p: &Prepared) -> HParams {
    let lr = s
        .hyper
        .get("lr")
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN);
    let mut others: Vec<String> = s
        .hyper
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "lr")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    others.sort();
    let batch = match s.batch_size {
        BatchSize::Full => p.train.len(),
        BatchSize::Size(n) => n,
    };
    let hidden: Vec<String> = s.hidden.iter().map(usize::to_string).collect();
    let mut hp = HParams::new()
        .with("data", s.data.as_str())
        .with("optimizer", s.optimizer.as_str())
        .with("lr", lr)
        .with("optimizer_args", others.join(" "))
        .with("batch_size", batch)
        .with("hidden", hidden.join(","))
        .with("activation", s.activation.as_str())
        .with("dropout", s.dropout)
        .with("loss", p.spec.loss.as_str())
        .with("schedule", s.schedule.as_deref().unwrap_or("none"))
        .with("epochs", s.epochs)
        .with("seed", s.seed as f64);
    let metrics: &[&str] = match p.spec.task {
        Task::Classification => &["accuracy", "f1_macro", "loss"],
        Task::Regression => &["rmse", "r2", "loss"],
    };
    for part in ["val", "test"] {
        for m in metrics {
            hp = hp.metric(&format!("{part}/{m}"));
        }
    }
    hp.metric("train/loss")
        .metric(&format!("best/{}", s.monitor))
        .first(&["optimizer", "lr", "batch_size", "hidden", "schedule"])
}

/// The TensorBoard callback of a run, attached to `trainer`, unless
/// `--no-tensorboard`.
///
/// **Errors** naming `--tensorboard-histograms` if it is 0, or the directory
/// if `RUN_DIR/tensorboard/` cannot be created.
pub fn attach(
    args: &TrainArgs,
    s: &Settings,
    p: &Prepared,
    run: &RunDir,
    trainer: Trainer,
) -> Result<(Trainer, Option<TensorBoard>)> {
    if args.tensorboard_histograms == Some(0) {
        return Err(CliError::flag(
            "--tensorboard-histograms",
            "must be at least 1",
        ));
    }
    if args.no_tensorboard {
        return Ok((trainer, None));
    }
    let mut tb = TensorBoard::new(run.file("tensorboard"))?.with_hparams(train_hparams(s, p));
    if let Some(every) = args.tensorboard_histograms {
        tb = tb.with_histograms(every, trainer.model().named_parameters());
    }
    Ok((trainer.with_callback(Box::new(tb.clone())), Some(tb)))
}

/// Logs the test metrics of `metrics.json` and closes the file; a write
/// error is a warning (the run itself is complete and is kept).
pub fn finish(tb: Option<&TensorBoard>, metrics: &Value, epochs_run: usize) {
    let Some(tb) = tb else { return };
    let test: Metrics = metrics["test"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x)))
        .collect();
    tb.log_metrics("test", &test, epochs_run);
    if let Err(e) = tb.finish() {
        eprintln!("warning: TensorBoard logging stopped: {e}");
    }
}

/// `downhill minimize --tensorboard DIR`: `f` and every variable per step
/// (`f`, `x/<name>`), with the expression, optimizer and learning rate as
/// hyperparameters and how it ended.
///
/// # Errors
/// If the directory or file cannot be written.
/// `run` is (expression, optimizer, learning rate).
pub fn write_minimize(
    dir: &Path,
    (expr, optimizer, lr): (&str, &str, f64),
    names: &[String],
    points: &[Vec<f64>],
    losses: &[f64],
    converged: bool,
) -> Result<()> {
    let mut w = EventWriter::create(dir)?;
    let hp = HParams::new()
        .with("expression", expr)
        .with("optimizer", optimizer)
        .with("lr", lr)
        .metric("f");
    let now = wall_time();
    let mut start: Vec<_> = hp.experiment_value(now).into_iter().collect();
    start.push(hp.session_start_value(now));
    w.add_values(0, start);
    for (k, (x, f)) in points.iter().zip(losses).enumerate() {
        w.add_scalar("f", *f, k as i64);
        for (name, v) in names.iter().zip(x) {
            w.add_scalar(&format!("x/{name}"), *v, k as i64);
        }
    }
    let status = if converged {
        SessionStatus::Success
    } else {
        SessionStatus::Failure
    };
    w.add_values(
        losses.len() as i64 - 1,
        vec![session_end_value(status, wall_time())],
    );
    w.flush()?;
    Ok(())
}
