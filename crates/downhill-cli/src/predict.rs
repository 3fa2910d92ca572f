//! `downhill predict` and `downhill evaluate`: a trained run directory
//! applied to new data.

use std::fmt::Write as _;
use std::path::PathBuf;

use downhill::data::{CsvOptions, Task};
use downhill::nn::Module;
use downhill::{DType, Tensor};

use crate::error::{CliError, Result};
use crate::report::{metrics_on, unscale};
use crate::source::load_table;
use crate::spec::ModelSpec;
use crate::train::{dataset, scale_table};

/// Flags of `downhill predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A run directory written by `downhill train` (model.json + model.safetensors)
    #[arg(long)]
    pub model: PathBuf,
    /// A CSV/NPY/NPZ file (or built-in dataset) with the model's feature columns; a target column is not needed
    #[arg(long)]
    pub data: String,
    /// Write the predictions here as CSV [default: standard output]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Flags of `downhill evaluate`.
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// A run directory written by `downhill train`
    #[arg(long)]
    pub model: PathBuf,
    /// A CSV/NPY/NPZ file (or built-in dataset) with the model's feature and target columns
    #[arg(long)]
    pub data: String,
}

fn read(spec: &ModelSpec, data: &str, need_target: bool) -> Result<downhill::data::Table> {
    let opts = CsvOptions {
        targets: spec.target_names.clone(),
        features: Some(spec.feature_names.clone()),
        task: Some(spec.task),
        target_optional: !need_target,
        class_labels: spec.class_labels.clone(),
        ..CsvOptions::default()
    };
    load_table(data, &opts)
}

fn features(spec: &ModelSpec, table: &downhill::data::Table) -> Tensor {
    let t = scale_table(table, spec);
    Tensor::from_f64_slice(&t.features, &[t.rows, t.num_features()], DType::F32)
}

/// Runs `downhill predict`: one row per input row — the class label and one
/// probability per class, or the predicted value(s).
pub fn run_predict(args: PredictArgs) -> Result<()> {
    let (spec, model) = ModelSpec::load(&args.model)?;
    let table = read(&spec, &args.data, false)?;
    let x = features(&spec, &table);
    let y = downhill::no_grad(|| model.forward(&x));
    let mut csv = String::new();
    match spec.task {
        Task::Classification => {
            let labels = spec.class_labels.clone().unwrap_or_default();
            let probs = y.softmax(-1).to_vec_f64();
            let k = labels.len().max(1);
            csv.push_str("prediction");
            for l in &labels {
                let _ = write!(csv, ",p_{}", csv_field(l));
            }
            csv.push('\n');
            for row in probs.chunks(k) {
                let best = row
                    .iter()
                    .enumerate()
                    .fold(0, |b, (i, &p)| if p > row[b] { i } else { b });
                csv.push_str(&csv_field(&labels[best]));
                for p in row {
                    let _ = write!(csv, ",{p:.6}");
                }
                csv.push('\n');
            }
        }
        Task::Regression => {
            let width = spec.target_names.len().max(1);
            let mut v = y.to_vec_f64();
            unscale(&spec.target_scaler, &mut v, width);
            let names: Vec<String> = spec.target_names.iter().map(|n| csv_field(n)).collect();
            csv.push_str(&names.join(","));
            csv.push('\n');
            for row in v.chunks(width) {
                let cells: Vec<String> = row.iter().map(|x| x.to_string()).collect();
                csv.push_str(&cells.join(","));
                csv.push('\n');
            }
        }
    }
    match &args.out {
        Some(path) => {
            downhill::nn::write_atomic(path, csv.as_bytes())?;
            eprintln!("wrote {} predictions to {}", table.rows, path.display());
        }
        None => print!("{csv}"),
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Runs `downhill evaluate`: the metrics of `metrics.json` on new data, as JSON.
pub fn run_evaluate(args: EvaluateArgs) -> Result<()> {
    let (spec, model) = ModelSpec::load(&args.model)?;
    let table = read(&spec, &args.data, true)?;
    if table.target.is_none() {
        return Err(CliError::flag(
            "--data",
            format!("{}: no target column {:?}", args.data, spec.target_names),
        ));
    }
    let rows: Vec<usize> = (0..table.rows).collect();
    let ds = dataset(&scale_table(&table, &spec), &spec, &rows);
    let m = metrics_on(&model, &spec, &ds)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Object(m)).expect("metrics serialize")
    );
    Ok(())
}
