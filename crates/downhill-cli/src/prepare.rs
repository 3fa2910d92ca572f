//! What `train`, `predict`, `evaluate` and the final report share: reading
//! `--data` into a frame, the library's preparation pipeline, notices, and
//! mapping library errors onto flags.

use downhill::data::{
    prepare as prepare_frame, FrameOptions, Kind, ModelSpec, PrepareOptions, SchemaOptions, Split,
    TensorDataset, TransformNotes,
};
use downhill::loss::Loss;
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::settings::Settings;
use crate::source::{load_frame, targets};

/// The data of a run, split and encoded, and the model's description.
pub struct Prepared {
    /// The split (indices into the rows with a target).
    pub split: Split,
    /// What `model.json` will hold.
    pub spec: ModelSpec,
    /// Training rows.
    pub train: TensorDataset,
    /// Validation rows.
    pub val: TensorDataset,
    /// Test rows.
    pub test: TensorDataset,
}

/// A library error, with the option names of the schema mapped onto flags.
pub fn flag_error(e: downhill::Error) -> CliError {
    match e {
        downhill::Error::InvalidArgument { name, message } => match name.as_str() {
            "categorical" | "numeric" | "drop" => CliError::flag(format!("--{name}"), message),
            "split" | "features" => CliError::flag("--data", message),
            "targets" => CliError::flag("--target", message),
            _ => CliError::Lib(downhill::Error::InvalidArgument { name, message }),
        },
        other => CliError::Lib(other),
    }
}

/// The missing-value tokens of `--na-values` (comma-separated; `""` for the
/// empty cell only).
pub fn frame_options(na_values: Option<&[String]>) -> FrameOptions {
    FrameOptions {
        na_values: na_values.map(<[String]>::to_vec),
        ..FrameOptions::default()
    }
}

/// Reads and prepares the data of a run: frame → target → split → schema →
/// datasets, and the model description.
///
/// **Errors** naming the file, line and column, or the flag.
pub fn prepare(s: &Settings, saved_split: Option<Split>, quiet: bool) -> Result<Prepared> {
    let frame = load_frame(&s.data, &frame_options(s.na_values.as_deref()))?;
    let opts = PrepareOptions {
        targets: targets(&s.data, &s.target),
        task: s.task,
        schema: SchemaOptions {
            categorical: s.categorical.clone(),
            numeric: s.numeric.clone(),
            drop: s.drop.clone(),
            max_categories: s.max_categories,
        },
        scaler: s.scaler,
        val_split: s.val_split,
        test_split: s.test_split,
        seed: s.seed,
    };
    let p = prepare_frame(&frame, &opts, saved_split).map_err(flag_error)?;
    let mut spec = p.mlp(&s.hidden, &s.activation);
    spec.architecture.dropout = s.dropout;
    if let Some(loss) = &s.loss {
        spec.loss = loss.clone();
    }
    spec.loss_options = Value::Object(s.loss_options.clone());
    spec.na_values = s.na_values.clone();
    if !quiet {
        print_data_lines(s, &p, &spec);
    }
    Ok(Prepared {
        split: p.split,
        spec,
        train: p.train,
        val: p.val,
        test: p.test,
    })
}

fn print_data_lines(s: &Settings, p: &downhill::data::Prepared, spec: &ModelSpec) {
    let what = match &p.class_labels {
        Some(l) => format!("{} classes", l.len()),
        None => format!("{} target(s)", p.outputs()),
    };
    let dropped = if p.dropped_rows > 0 {
        format!(" ({} without a target dropped)", p.dropped_rows)
    } else {
        String::new()
    };
    println!(
        "data: {} — {} rows{dropped}, {} features, target {} ({what}), {}{}",
        s.data,
        p.rows - p.dropped_rows,
        spec.architecture.inputs,
        p.target_names.join(","),
        p.task,
        if p.task_inferred {
            " (inferred; set --task to override)"
        } else {
            ""
        }
    );
    for c in p.columns.iter().filter(|c| c.kind == Kind::Dropped) {
        println!("note: column {:?} dropped: {}", c.name, c.why);
    }
    let categorical: Vec<&str> = p
        .columns
        .iter()
        .filter(|c| c.kind == Kind::Categorical)
        .map(|c| c.name.as_str())
        .collect();
    let imputed: Vec<&str> = p
        .columns
        .iter()
        .filter(|c| c.kind != Kind::Dropped && c.missing > 0)
        .map(|c| c.name.as_str())
        .collect();
    if !categorical.is_empty() || !imputed.is_empty() {
        let mut parts = vec![];
        if !categorical.is_empty() {
            parts.push(format!("one-hot: {}", categorical.join(", ")));
        }
        if !imputed.is_empty() {
            parts.push(format!("missing cells imputed: {}", imputed.join(", ")));
        }
        let used = p.columns.iter().filter(|c| c.kind != Kind::Dropped).count();
        println!(
            "features: {used} columns → {} inputs ({}; see `downhill inspect`)",
            spec.architecture.inputs,
            parts.join("; ")
        );
    }
    println!(
        "split: {} train / {} validation / {} test{} (seed {})",
        p.split.train.len(),
        p.split.val.len(),
        p.split.test.len(),
        if p.class_labels.is_some() {
            ", stratified"
        } else {
            ""
        },
        s.seed
    );
}

/// The notices of applying a schema to new data, one line each, on stderr.
pub fn print_notes(notes: &TransformNotes, dropped_rows: usize) {
    if !notes.extra_columns.is_empty() {
        eprintln!(
            "note: ignored {} column(s) the model does not use: {}",
            notes.extra_columns.len(),
            notes.extra_columns.join(", ")
        );
    }
    for (column, n) in &notes.unseen {
        eprintln!("note: column {column:?}: {n} cell(s) with a category not seen in training (encoded as other)");
    }
    if !notes.imputed.is_empty() {
        let total: usize = notes.imputed.iter().map(|(_, n)| n).sum();
        let per: Vec<String> = notes
            .imputed
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        eprintln!("note: {total} missing cell(s) imputed ({})", per.join(", "));
    }
    if dropped_rows > 0 {
        eprintln!("note: {dropped_rows} row(s) without a target left out");
    }
}

/// The loss a model description names.
///
/// **Errors** naming `--loss` if it does not fit the task or its options are invalid.
pub fn build_loss(spec: &ModelSpec) -> Result<Box<dyn Loss>> {
    let loss = crate::loss_args::build(&spec.loss, &spec.loss_options)?;
    check_loss(spec)?;
    Ok(loss)
}

/// Whether the loss is computed on standardized targets (regression).
pub fn loss_is_scaled(spec: &ModelSpec) -> bool {
    !matches!(spec.target_scaler, downhill::data::Scaler::None)
}

/// The library's check that the loss fits the task.
fn check_loss(spec: &ModelSpec) -> Result<()> {
    spec.build_loss().map(drop).map_err(|e| match e {
        downhill::Error::InvalidArgument { name, message } if name == "loss" => {
            CliError::flag("--loss", message)
        }
        downhill::Error::InvalidArgument { name, message } => {
            CliError::flag(format!("--loss {name}"), message)
        }
        other => CliError::Lib(other),
    })
}
