//! `downhill predict` and `downhill evaluate`: a trained run directory
//! applied to new data, preprocessing included (see `model.json`'s schema).

use std::fmt::Write as _;
use std::path::PathBuf;

use downhill::data::{Output, TrainedModel};

use crate::error::Result;
use crate::prepare::{flag_error, frame_options, print_notes};
use crate::source::load_frame;

/// Flags of `downhill predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A run directory written by `downhill train` (model.json + model.safetensors)
    #[arg(long)]
    pub model: PathBuf,
    /// A CSV/NPY/NPZ/Parquet file (or built-in dataset) with the model's feature columns, in any order; a target column is not needed
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
    /// A CSV/NPY/NPZ/Parquet file (or built-in dataset) with the model's feature and target columns
    #[arg(long)]
    pub data: String,
}

fn load(model: &std::path::Path, data: &str) -> Result<(TrainedModel, downhill::data::Frame)> {
    let m = TrainedModel::load(model)?;
    let frame = load_frame(data, &frame_options(m.spec.na_values.as_deref()))?;
    Ok((m, frame))
}

/// The predictions as CSV: the class label and one probability per class,
/// or the predicted value(s) in the target's units.
fn predictions_csv(output: &Output, target_names: &[String]) -> String {
    let mut csv = String::new();
    match output {
        Output::Classes {
            labels,
            probabilities,
            predicted,
        } => {
            csv.push_str("prediction");
            for l in labels {
                let _ = write!(csv, ",p_{}", csv_field(l));
            }
            csv.push('\n');
            for (row, &best) in probabilities.chunks(labels.len().max(1)).zip(predicted) {
                csv.push_str(&csv_field(&labels[best]));
                for p in row {
                    let _ = write!(csv, ",{p:.6}");
                }
                csv.push('\n');
            }
        }
        Output::Values { values, width } => {
            let names: Vec<String> = target_names.iter().map(|n| csv_field(n)).collect();
            csv.push_str(&names.join(","));
            csv.push('\n');
            for row in values.chunks(*width) {
                let cells: Vec<String> = row.iter().map(|x| x.to_string()).collect();
                csv.push_str(&cells.join(","));
                csv.push('\n');
            }
        }
    }
    csv
}

/// Runs `downhill predict`: one row per input row. Notices (ignored
/// columns, unseen categories, imputed cells) go to standard error.
pub fn run_predict(args: PredictArgs) -> Result<()> {
    let (m, frame) = load(&args.model, &args.data)?;
    let p = m.predict(&frame).map_err(flag_error)?;
    print_notes(&p.notes, 0);
    let csv = predictions_csv(&p.output, &m.spec.target_names);
    match &args.out {
        Some(path) => {
            downhill::nn::write_atomic(path, csv.as_bytes())?;
            eprintln!("wrote {} predictions to {}", p.rows, path.display());
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
    let (m, frame) = load(&args.model, &args.data)?;
    let (ds, dropped, notes) = m.labelled(&frame).map_err(flag_error)?;
    print_notes(&notes, dropped);
    let metrics = m.metrics(&ds).map_err(flag_error)?;
    let json: serde_json::Map<String, serde_json::Value> = metrics
        .into_iter()
        .map(|(k, v)| (k, serde_json::json!(v)))
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Object(json)).expect("metrics serialize")
    );
    Ok(())
}
