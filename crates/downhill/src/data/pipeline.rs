//! What `downhill train` does before training, as a library call: a
//! [`Frame`] → its target → a seeded split → a [`Schema`] fitted on the
//! training rows → scaled `f32` datasets.

use super::columns::{infer_columns, ColumnReport, SchemaOptions};
use super::features::TransformNotes;
use super::frame::{ColumnValues, Frame};
use super::schema::Schema;
use super::spec::{default_loss, Architecture, ModelSpec, MODEL_FORMAT};
use super::target::{build_target, name_list, quote, Location, RawTarget, TextCells};
use super::{
    split, CsvOptions, Scaler, ScalerKind, Split, Table, TargetColumn, Task, TensorDataset,
};
use crate::{DType, Error, Result, Tensor};

/// How [`prepare`] turns a frame into datasets.
#[derive(Clone, Debug)]
pub struct PrepareOptions {
    /// Target column names; empty = the last column.
    pub targets: Vec<String>,
    /// The task; `None` = inferred from the target (see [`CsvOptions::task`]).
    pub task: Option<Task>,
    /// Column kind overrides and the one-hot limit.
    pub schema: SchemaOptions,
    /// Feature scaling fitted on the training rows.
    pub scaler: ScalerKind,
    /// Validation fraction.
    pub val_split: f64,
    /// Test fraction.
    pub test_split: f64,
    /// Seed of the split.
    pub seed: u64,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            targets: vec![],
            task: None,
            schema: SchemaOptions::default(),
            scaler: ScalerKind::Standard,
            val_split: 0.1,
            test_split: 0.2,
            seed: 0,
        }
    }
}

impl PrepareOptions {
    /// Defaults with the target column `target`.
    pub fn target(target: &str) -> Self {
        PrepareOptions {
            targets: vec![target.to_string()],
            ..Self::default()
        }
    }
}

/// A frame made ready for training.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Rows of the frame.
    pub rows: usize,
    /// Rows dropped because their target was missing.
    pub dropped_rows: usize,
    /// Every feature column's kind and why.
    pub columns: Vec<ColumnReport>,
    /// The fitted preprocessing.
    pub schema: Schema,
    /// The task.
    pub task: Task,
    /// Whether it was inferred.
    pub task_inferred: bool,
    /// The target column names.
    pub target_names: Vec<String>,
    /// Class labels (classification).
    pub class_labels: Option<Vec<String>>,
    /// Target standardization (regression; fitted on the training rows).
    pub target_scaler: Scaler,
    /// The split (indices into the rows kept).
    pub split: Split,
    /// Training rows, encoded and scaled.
    pub train: TensorDataset,
    /// Validation rows.
    pub val: TensorDataset,
    /// Test rows.
    pub test: TensorDataset,
}

impl Prepared {
    /// Number of model outputs: classes, or target columns.
    pub fn outputs(&self) -> usize {
        match &self.class_labels {
            Some(l) => l.len(),
            None => self.target_names.len(),
        }
    }

    /// A model description for an MLP with `hidden` widths over this data,
    /// with the task's default loss.
    pub fn mlp(&self, hidden: &[usize], activation: &str) -> ModelSpec {
        ModelSpec {
            format: MODEL_FORMAT.into(),
            task: self.task,
            architecture: Architecture {
                kind: "mlp".into(),
                inputs: self.schema.width(),
                hidden: hidden.to_vec(),
                outputs: self.outputs(),
                activation: activation.into(),
                dropout: 0.0,
            },
            feature_names: self.schema.feature_names(),
            target_names: self.target_names.clone(),
            class_labels: self.class_labels.clone(),
            schema: self.schema.clone(),
            target_scaler: self.target_scaler.clone(),
            loss: default_loss(self.task).into(),
            loss_options: serde_json::json!({}),
            na_values: None,
        }
    }
}

/// The target columns `opts.targets` (empty = the last column) of `frame`.
fn target_names(frame: &Frame, targets: &[String]) -> Result<Vec<String>> {
    if targets.is_empty() {
        let last = frame.columns.last().expect("a frame has columns");
        return Ok(vec![last.name.clone()]);
    }
    let missing: Vec<&String> = targets
        .iter()
        .filter(|t| frame.column(t).is_none())
        .collect();
    if !missing.is_empty() {
        let what = if missing.len() == 1 {
            "column"
        } else {
            "columns"
        };
        return Err(frame.header_error(
            0,
            format!(
                "no target {what} {} (columns: {})",
                name_list(&missing),
                name_list(&frame.names())
            ),
        ));
    }
    Ok(targets.to_vec())
}

/// The target columns `names` of `frame` (which has no missing target cell:
/// see [`rows_with_target`]) as classes or values, the task and whether it
/// was inferred — by the rules of [`CsvOptions`] (`task`, `class_labels`).
///
/// # Errors
///
/// As [`parse_csv`](super::parse_csv) for targets: one class only, a
/// label not among `class_labels`, text in a regression target.
pub fn frame_target(
    frame: &Frame,
    names: &[String],
    opts: &CsvOptions,
) -> Result<(TargetColumn, Task, bool)> {
    let raw: Vec<RawTarget> = names
        .iter()
        .map(|n| {
            let c = frame.column(n).expect("target columns exist");
            match &c.values {
                ColumnValues::Numbers(v) => RawTarget {
                    name: c.name.clone(),
                    column: c.position,
                    text: None,
                    values: v.iter().map(|&x| Some(x)).collect(),
                },
                ColumnValues::Text(t) => {
                    // Each distinct text is read as a number once.
                    let parsed: Vec<Option<f64>> =
                        t.dictionary.iter().map(|s| s.parse::<f64>().ok()).collect();
                    let values = t
                        .codes
                        .iter()
                        .map(|&c| parsed.get(c as usize).copied().flatten())
                        .collect();
                    RawTarget {
                        name: c.name.clone(),
                        column: c.position,
                        text: Some(TextCells::Coded {
                            codes: t.codes.clone(),
                            dictionary: t.dictionary.clone(),
                        }),
                        values,
                    }
                }
            }
        })
        .collect();
    let at = Location {
        path: &frame.path,
        lines: frame.lines.as_deref(),
        header_line: frame.header_line,
    };
    build_target(&raw, frame.rows, opts, &at)
}

/// The rows of `frame` whose target cells are all present.
///
/// # Errors
///
/// [`Error::Parse`] naming the column if it is missing in every row.
pub fn rows_with_target(frame: &Frame, targets: &[String]) -> Result<Vec<usize>> {
    let cols: Vec<_> = targets.iter().filter_map(|t| frame.column(t)).collect();
    let keep: Vec<usize> = (0..frame.rows)
        .filter(|&r| cols.iter().all(|c| !c.is_missing(r)))
        .collect();
    if keep.is_empty() {
        let c = cols
            .iter()
            .find(|c| c.missing() == frame.rows)
            .unwrap_or(&cols[0]);
        return Err(frame.header_error(
            c.position,
            format!("target column {} is missing in every row", quote(&c.name)),
        ));
    }
    Ok(keep)
}

/// Encodes `frame` with `schema` into a [`Table`] (scaled features, the
/// target as given).
pub fn encode_table(
    frame: &Frame,
    schema: &Schema,
    target: Option<TargetColumn>,
    target_names: &[String],
) -> Result<(Table, TransformNotes)> {
    let (features, notes) = schema.transform(frame)?;
    let task = target.as_ref().map(|t| match t {
        TargetColumn::Classes { .. } => Task::Classification,
        TargetColumn::Values { .. } => Task::Regression,
    });
    Ok((
        Table {
            feature_names: schema.feature_names(),
            target_names: target_names.to_vec(),
            features,
            rows: frame.rows,
            target,
            task,
            task_inferred: false,
        },
        notes,
    ))
}

/// The rows `rows` of `frame` encoded by `schema` (straight into `f32`)
/// with their targets.
fn datasets(
    frame: &Frame,
    schema: &Schema,
    target: &TargetColumn,
    rows: &[usize],
) -> Result<TensorDataset> {
    let (x, _) = schema.transform_rows::<f32>(frame, rows)?;
    let x = Tensor::from_vec(x, &[rows.len(), schema.width()]);
    Ok(match target {
        TargetColumn::Classes { indices, .. } => {
            TensorDataset::classification(x, rows.iter().map(|&r| indices[r]).collect())
        }
        TargetColumn::Values { values, width } => {
            let mut y = Vec::with_capacity(rows.len() * width);
            for &r in rows {
                y.extend_from_slice(&values[r * width..(r + 1) * width]);
            }
            TensorDataset::regression(
                x,
                &Tensor::from_f64_slice(&y, &[rows.len(), *width], DType::F32),
            )
        }
    })
}

/// Prepares `frame` for training: picks the target (rows where it is
/// missing are dropped and counted), infers the task and the column kinds,
/// splits (stratified for classification; `saved_split` reuses a split, as
/// when resuming), fits the [`Schema`] and the target scaler on the
/// training rows, and builds `f32` datasets.
///
/// ```
/// use downhill::data::{parse_csv_frame, prepare, FrameOptions, PrepareOptions};
/// use std::path::Path;
///
/// let mut csv = String::from("size,island,species\n");
/// for i in 0..40 {
///     let (island, species) = if i % 2 == 0 { ("Biscoe", "Gentoo") } else { ("Dream", "Adelie") };
///     let size = if i % 7 == 0 { "NA".to_string() } else { (i % 5).to_string() };
///     csv.push_str(&format!("{size},{island},{species}\n"));
/// }
/// let frame = parse_csv_frame(csv.as_bytes(), Path::new("p.csv"), &FrameOptions::default())?;
/// let data = prepare(&frame, &PrepareOptions::target("species"), None)?;
/// assert_eq!(data.schema.feature_names(), ["size", "size=<missing>", "island=Biscoe", "island=Dream"]);
/// assert_eq!(data.class_labels.as_deref(), Some(&["Adelie".to_string(), "Gentoo".to_string()][..]));
/// assert_eq!(data.train.len() + data.val.len() + data.test.len(), 40);
/// # use downhill::data::Dataset;
/// # Ok::<(), downhill::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Parse`] naming the file (line, column) for a missing target
/// column, a target missing in every row, a classification target with one
/// class, a non-number in a numeric column;
/// [`Error::InvalidArgument`] for bad overrides or split fractions, or too
/// few rows to split.
pub fn prepare(
    frame: &Frame,
    opts: &PrepareOptions,
    saved_split: Option<Split>,
) -> Result<Prepared> {
    let targets = target_names(frame, &opts.targets)?;
    let columns = infer_columns(frame, &targets, &opts.schema)?;
    let keep = rows_with_target(frame, &targets)?;
    let dropped_rows = frame.rows - keep.len();
    let kept;
    let frame = if dropped_rows > 0 {
        kept = frame.take_rows(&keep);
        &kept
    } else {
        frame
    };
    let target_opts = CsvOptions {
        task: opts.task,
        ..CsvOptions::default()
    };
    let (target, task, task_inferred) = frame_target(frame, &targets, &target_opts)?;
    let classes = match &target {
        TargetColumn::Classes { indices, .. } => Some(indices.as_slice()),
        TargetColumn::Values { .. } => None,
    };
    let split = match saved_split {
        Some(s) => s,
        None => split(
            frame.rows,
            classes,
            opts.val_split,
            opts.test_split,
            opts.seed,
        )?,
    };
    // An empty part is an error only when a fraction of the rows was asked for
    // (`val_split = test_split = 0` trains on every row).
    let starved = |rows: &[usize], fraction: f64| rows.is_empty() && fraction > 0.0;
    if split.train.is_empty()
        || starved(&split.test, opts.test_split)
        || starved(&split.val, opts.val_split)
    {
        return Err(Error::InvalidArgument {
            name: "split".into(),
            message: format!(
                "{}: {} rows are too few to split into train/validation/test",
                frame.path.display(),
                frame.rows
            ),
        });
    }
    let schema = Schema::fit(frame, &columns, &split.train, &opts.schema, opts.scaler)?;
    let class_labels = match &target {
        TargetColumn::Classes { labels, .. } => Some(labels.clone()),
        TargetColumn::Values { .. } => None,
    };
    let (target, target_scaler) = match target {
        TargetColumn::Values { mut values, width } => {
            let s = Scaler::fit(ScalerKind::Standard, &values, width, &split.train);
            s.transform(&mut values, width);
            (TargetColumn::Values { values, width }, s)
        }
        classes => (classes, Scaler::None),
    };
    // The datasets know how their targets were scaled, so every metric
    // (per-epoch lines, history, plots, the summary) is in the target's units.
    let ds = |rows: &[usize]| -> Result<TensorDataset> {
        Ok(datasets(frame, &schema, &target, rows)?.with_target_scaler(target_scaler.clone()))
    };
    Ok(Prepared {
        rows: frame.rows + dropped_rows,
        dropped_rows,
        train: ds(&split.train)?,
        val: ds(&split.val)?,
        test: ds(&split.test)?,
        columns,
        schema,
        task,
        task_inferred,
        target_names: targets,
        class_labels,
        target_scaler,
        split,
    })
}
