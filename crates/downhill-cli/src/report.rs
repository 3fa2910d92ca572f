//! The end of a run: metrics on each split, the summary lines, the curves.

use std::path::Path;

use downhill::data::Task;
use downhill::nn::Module;
use downhill::train::Report;
use serde_json::{json, Map, Value};

use crate::error::Result;
use crate::prepare::{flag_error, Prepared};
use crate::rundir::RunDir;
use crate::spec::ModelSpec;

/// Loss and metrics on one dataset: accuracy, F1, precision and recall
/// (classification) or RMSE, MAE and R² in the target's own units
/// (regression; the loss is on standardized targets).
///
/// **Errors** if the model description names an unusable loss.
pub fn metrics_on(
    model: &dyn Module,
    spec: &ModelSpec,
    data: &downhill::data::TensorDataset,
) -> Result<Map<String, Value>> {
    let m = downhill::train::metrics_on(model, spec, data).map_err(flag_error)?;
    Ok(m.into_iter().map(|(k, v)| (k, json!(v))).collect())
}

/// `metrics.json`: train/val/test metrics, why training stopped, epochs run.
///
/// **Errors** if the loss cannot be built.
pub fn final_metrics(model: &dyn Module, p: &Prepared, report: &Report) -> Result<Value> {
    use downhill::data::Dataset;
    let mut out = Map::new();
    out.insert(
        "train".into(),
        Value::Object(metrics_on(model, &p.spec, &p.train)?),
    );
    if !p.val.is_empty() {
        out.insert(
            "val".into(),
            Value::Object(metrics_on(model, &p.spec, &p.val)?),
        );
    }
    if !p.test.is_empty() {
        out.insert(
            "test".into(),
            Value::Object(metrics_on(model, &p.spec, &p.test)?),
        );
    }
    out.insert("stopped_because".into(), json!(report.stopped_because));
    out.insert("stop_message".into(), json!(report.message));
    out.insert("epochs_run".into(), json!(report.epochs_run));
    out.insert("steps".into(), json!(report.steps));
    out.insert("best_epoch".into(), json!(report.best_epoch));
    Ok(Value::Object(out))
}

/// The closing lines of `downhill train`.
pub fn print_summary(spec: &ModelSpec, report: &Report, metrics: &Value, seconds: f64, out: &Path) {
    println!(
        "stopped ({}): {}; {} epochs, {} steps in {seconds:.2} s",
        report.stopped_because, report.message, report.epochs_run, report.steps
    );
    let keys: &[&str] = match spec.task {
        Task::Classification => &["accuracy", "f1_macro", "loss"],
        Task::Regression => &["rmse", "mae", "r2", "loss"],
    };
    for part in ["train", "val", "test"] {
        if let Some(m) = metrics.get(part) {
            let line: Vec<String> = keys
                .iter()
                .filter_map(|k| {
                    m.get(*k)
                        .and_then(Value::as_f64)
                        .map(|v| format!("{k} {v:.4}"))
                })
                .collect();
            println!("{part:>5}: {}", line.join("  "));
        }
    }
    println!("saved {}/ (model.safetensors, model.json, metrics.json, history.csv, loss.png, loss.svg, checkpoints/)", out.display());
}

/// `loss.png` and `loss.svg`: training and validation loss per epoch, and
/// the main validation metric.
pub fn plot_curves(run: &RunDir, spec: &ModelSpec, report: &Report) -> Result<()> {
    use downhill::train::plot::{training_curves, Series};
    let h = &report.history;
    let series = |name: &str, f: &dyn Fn(&downhill::train::EpochRecord) -> Option<f64>| Series {
        name: name.to_string(),
        points: h
            .iter()
            .filter_map(|r| f(r).map(|v| (r.epoch as f64, v)))
            .collect(),
    };
    let scaled = if crate::prepare::loss_is_scaled(spec) {
        " (standardized targets)"
    } else {
        ""
    };
    let loss = vec![
        series(&format!("train loss{scaled}"), &|r| Some(r.train_loss)),
        series(&format!("validation loss{scaled}"), &|r| {
            r.val.get("loss").copied()
        }),
    ];
    let metric = match spec.task {
        Task::Classification => "accuracy",
        Task::Regression => "r2",
    };
    let metrics = vec![series(&format!("validation {metric}"), &|r| {
        r.val.get(metric).copied()
    })];
    let title = format!("downhill train — {}", spec.target_names.join(","));
    for ext in ["png", "svg"] {
        training_curves(&run.file(&format!("loss.{ext}")), &title, &loss, &metrics)?;
    }
    Ok(())
}
