//! [`TrainedModel`]: a model with its description — what a run directory of
//! `downhill train` holds — predicting on tables, preprocessing included.

use std::path::Path;

use super::features::TransformNotes;
use super::frame::{Frame, FrameOptions};
use super::pipeline::{encode_table, frame_target, rows_with_target};
use super::read_frame::read_frame;
use super::spec::ModelSpec;
use super::{CsvOptions, TargetColumn, Task, TensorDataset};
use crate::nn::Module;
use crate::{DType, Result, Tensor};

/// What a model predicts for each row.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Classification: the predicted class and the probability of each.
    Classes {
        /// Class labels, in output order.
        labels: Vec<String>,
        /// `rows × labels.len()` softmax probabilities, row-major.
        probabilities: Vec<f64>,
        /// The most probable class of each row.
        predicted: Vec<usize>,
    },
    /// Regression: values in the target's units, `rows × width`.
    Values {
        /// The values, row-major.
        values: Vec<f64>,
        /// Target columns.
        width: usize,
    },
}

/// Predictions on a table, and what preprocessing noticed.
#[derive(Clone, Debug)]
pub struct Predictions {
    /// Number of rows.
    pub rows: usize,
    /// The predictions.
    pub output: Output,
    /// Extra columns ignored, unseen categories, imputed cells.
    pub notes: TransformNotes,
}

/// A trained model and its description.
///
/// ```no_run
/// use downhill::data::{FrameOptions, Output, TrainedModel};
/// use std::path::Path;
///
/// let model = TrainedModel::load(Path::new("runs/penguins"))?;
/// let p = model.predict_file(Path::new("new_penguins.csv"), &FrameOptions::default())?;
/// if let Output::Classes { labels, predicted, .. } = &p.output {
///     println!("first row: {}", labels[predicted[0]]);
/// }
/// # Ok::<(), downhill::Error>(())
/// ```
pub struct TrainedModel {
    /// The description (`model.json`).
    pub spec: ModelSpec,
    /// The network.
    pub model: Box<dyn Module>,
}

impl TrainedModel {
    /// A model and its description; the model is put in evaluation mode.
    pub fn new(spec: ModelSpec, mut model: Box<dyn Module>) -> Self {
        model.eval();
        TrainedModel { spec, model }
    }

    /// Loads a run directory (`model.json` + `model.safetensors`).
    ///
    /// # Errors
    ///
    /// As [`ModelSpec::load`].
    pub fn load(dir: &Path) -> Result<Self> {
        let (spec, model) = ModelSpec::load(dir)?;
        Ok(TrainedModel {
            spec,
            model: Box::new(model),
        })
    }

    /// Writes `DIR/model.json` and `DIR/model.safetensors` (atomically;
    /// `DIR` must exist).
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if a file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::nn::save_safetensors(self.model.as_ref(), dir.join("model.safetensors"))?;
        crate::nn::write_atomic(&dir.join("model.json"), self.spec.to_json().as_bytes())
    }

    /// The encoded, scaled inputs of every row of `frame` as an `f32`
    /// tensor (`rows × inputs`).
    ///
    /// # Errors
    ///
    /// As [`Schema::transform`](super::Schema::transform).
    pub fn inputs(&self, frame: &Frame) -> Result<(Tensor, TransformNotes)> {
        let (x, notes) = self.spec.schema.transform(frame)?;
        Ok((
            Tensor::from_f64_slice(&x, &[frame.rows, self.spec.schema.width()], DType::F32),
            notes,
        ))
    }

    /// Predicts every row of `frame`. Columns may come in any order; extra
    /// columns (a target column too) are ignored; unseen categories and
    /// missing cells are encoded as the schema says (see [`TransformNotes`]).
    ///
    /// # Errors
    ///
    /// [`Error::Parse`](crate::Error::Parse) naming a missing feature column
    /// or a non-number in a numeric column.
    pub fn predict(&self, frame: &Frame) -> Result<Predictions> {
        let (x, notes) = self.inputs(frame)?;
        let y = crate::no_grad(|| self.model.forward(&x));
        let output = match self.spec.task {
            Task::Classification => {
                let labels = self.spec.class_labels.clone().unwrap_or_default();
                let probabilities = y.softmax(-1).to_vec_f64();
                let predicted = probabilities
                    .chunks(labels.len().max(1))
                    .map(|row| {
                        row.iter()
                            .enumerate()
                            .fold(0, |b, (i, &p)| if p > row[b] { i } else { b })
                    })
                    .collect();
                Output::Classes {
                    labels,
                    probabilities,
                    predicted,
                }
            }
            Task::Regression => {
                let width = self.spec.target_names.len().max(1);
                let mut values = y.to_vec_f64();
                self.spec
                    .target_scaler
                    .inverse_transform(&mut values, width);
                Output::Values { values, width }
            }
        };
        Ok(Predictions {
            rows: frame.rows,
            output,
            notes,
        })
    }

    /// Reads a file (CSV, NPY/NPZ, Parquet) and predicts every row.
    ///
    /// # Errors
    ///
    /// As [`read_frame`] and [`TrainedModel::predict`].
    pub fn predict_file(&self, path: &Path, opts: &FrameOptions) -> Result<Predictions> {
        self.predict(&read_frame(path, opts)?)
    }

    /// The labelled rows of `frame` (rows whose target is missing are left
    /// out; their count is returned) as a dataset, targets scaled as in
    /// training.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`](crate::Error::Parse) for a missing target column, a
    /// label the model never saw (line and column), or as
    /// [`TrainedModel::predict`].
    pub fn labelled(&self, frame: &Frame) -> Result<(TensorDataset, usize, TransformNotes)> {
        let names = &self.spec.target_names;
        if let Some(missing) = names.iter().find(|n| frame.column(n).is_none()) {
            return Err(frame.header_error(
                0,
                format!("no target column {missing:?} (the model's target)"),
            ));
        }
        let keep = rows_with_target(frame, names)?;
        let dropped = frame.rows - keep.len();
        let frame = frame.take_rows(&keep);
        let opts = CsvOptions {
            task: Some(self.spec.task),
            class_labels: self.spec.class_labels.clone(),
            ..CsvOptions::default()
        };
        let (mut target, _, _) = frame_target(&frame, names, &opts)?;
        if let TargetColumn::Values { values, width } = &mut target {
            self.spec.target_scaler.transform(values, *width);
        }
        let (table, notes) = encode_table(&frame, &self.spec.schema, Some(target), names)?;
        let rows: Vec<usize> = (0..table.rows).collect();
        let ds = TensorDataset::from_table(&table, &table.features, &rows, DType::F32, None);
        Ok((ds, dropped, notes))
    }
}
