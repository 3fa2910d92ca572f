//! `model.json`: everything besides the weights needed to use a trained
//! model — architecture, the input [`Schema`], class labels, the target
//! scaler, the loss.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::features::FeatureColumn;
use super::schema::Schema;
use super::{Scaler, Task};
use crate::nn::{
    Dropout, LeakyReLU, Linear, Mish, Module, ReLU, Sequential, SiLU, Sigmoid, Softplus, Tanh,
    CELU, ELU, GELU, SELU,
};
use crate::{Error, Generator, Result};

/// The model description format written by this version.
pub const MODEL_FORMAT: &str = "downhill-model/2";

/// The activations an [`Architecture`] may name.
pub const ACTIVATIONS: [&str; 11] = [
    "relu",
    "leaky_relu",
    "elu",
    "celu",
    "selu",
    "gelu",
    "silu",
    "mish",
    "tanh",
    "sigmoid",
    "softplus",
];

/// The activation module for `name` (PyTorch defaults), `None` if unknown.
pub fn activation(name: &str) -> Option<Box<dyn Module>> {
    Some(match name.to_ascii_lowercase().replace('-', "_").as_str() {
        "relu" => Box::new(ReLU),
        "leaky_relu" | "leakyrelu" => Box::new(LeakyReLU::default()),
        "elu" => Box::new(ELU::default()),
        "celu" => Box::new(CELU::default()),
        "selu" => Box::new(SELU),
        "gelu" => Box::new(GELU::default()),
        "silu" | "swish" => Box::new(SiLU),
        "mish" => Box::new(Mish),
        "tanh" => Box::new(Tanh),
        "sigmoid" => Box::new(Sigmoid),
        "softplus" => Box::new(Softplus::default()),
        _ => return None,
    })
}

/// A multilayer perceptron: `Linear → activation (→ Dropout)` per hidden
/// layer, then a `Linear` output layer — PyTorch's `nn.Sequential` names
/// (`0.weight`, `0.bias`, `2.weight`, …).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Architecture {
    /// `mlp`.
    pub kind: String,
    /// Number of inputs (encoded features).
    pub inputs: usize,
    /// Hidden layer widths.
    pub hidden: Vec<usize>,
    /// Number of outputs (classes, or target columns).
    pub outputs: usize,
    /// Activation between layers.
    pub activation: String,
    /// Dropout probability after each hidden activation (0 = none).
    pub dropout: f64,
}

impl Architecture {
    /// The model, initialized like PyTorch's layers from `seed`.
    ///
    /// **Panics** if the activation is not one of [`ACTIVATIONS`] (checked
    /// by [`ModelSpec::load`] for files).
    pub fn build(&self, seed: u64) -> Sequential {
        let mut g = Generator::new(seed);
        let mut m = Sequential::new();
        let mut width = self.inputs;
        for (i, &h) in self.hidden.iter().enumerate() {
            m = m.push(Linear::new(width, h, true, &mut g));
            m.push_boxed(activation(&self.activation).expect("validated activation"));
            if self.dropout > 0.0 {
                m = m.push(Dropout::new(
                    self.dropout,
                    seed.wrapping_add(1000 + i as u64),
                ));
            }
            width = h;
        }
        m.push(Linear::new(width, self.outputs, true, &mut g))
    }
}

/// A trained model's description, saved as `model.json` beside
/// `model.safetensors`. `feature_names` lists the encoded inputs in the
/// order the model reads them, so a PyTorch user can rebuild them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelSpec {
    /// [`MODEL_FORMAT`] (`downhill-model/1` files, without a schema, load too).
    pub format: String,
    /// Classification or regression.
    pub task: Task,
    /// The architecture.
    pub architecture: Architecture,
    /// The model's inputs, in order (see [`Schema::feature_names`]).
    pub feature_names: Vec<String>,
    /// Target column names.
    pub target_names: Vec<String>,
    /// Class labels in output order (classification).
    pub class_labels: Option<Vec<String>>,
    /// The preprocessing of the inputs (column kinds, imputation, categories,
    /// scaler).
    pub schema: Schema,
    /// Target standardization (regression), fitted on the training split.
    pub target_scaler: Scaler,
    /// The loss it was trained with (PyTorch name).
    pub loss: String,
    /// The loss's options.
    pub loss_options: serde_json::Value,
    /// The cell texts read as missing in training (`None` = the defaults);
    /// prediction reads new files with the same.
    #[serde(default)]
    pub na_values: Option<Vec<String>>,
}

/// `model.json` as version 1 wrote it (numeric features, one scaler).
#[derive(Deserialize)]
struct SpecV1 {
    task: Task,
    architecture: Architecture,
    feature_names: Vec<String>,
    target_names: Vec<String>,
    class_labels: Option<Vec<String>>,
    scaler: Scaler,
    target_scaler: Scaler,
    loss: String,
    loss_options: serde_json::Value,
}

impl From<SpecV1> for ModelSpec {
    fn from(v: SpecV1) -> Self {
        // Version 1 had no missing cells; impute with the training mean.
        let means = match &v.scaler {
            Scaler::Standard { mean, .. } => mean.clone(),
            _ => vec![0.0; v.feature_names.len()],
        };
        let columns = v
            .feature_names
            .iter()
            .zip(means)
            .map(|(name, median)| FeatureColumn::Numeric {
                name: name.clone(),
                median,
                missing_indicator: false,
            })
            .collect();
        ModelSpec {
            format: MODEL_FORMAT.into(),
            task: v.task,
            architecture: v.architecture,
            feature_names: v.feature_names,
            target_names: v.target_names,
            class_labels: v.class_labels,
            schema: Schema {
                columns,
                dropped: vec![],
                scaler: v.scaler,
            },
            target_scaler: v.target_scaler,
            loss: v.loss,
            loss_options: v.loss_options,
            na_values: None,
        }
    }
}

/// The default loss of a task: `CrossEntropyLoss` or `MSELoss`.
pub fn default_loss(task: Task) -> &'static str {
    match task {
        Task::Classification => "CrossEntropyLoss",
        Task::Regression => "MSELoss",
    }
}

impl ModelSpec {
    /// Parses `model.json` text; `path` is used in messages.
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] naming the file for malformed JSON, an unknown
    /// format, or an invalid architecture.
    pub fn from_json(text: &str, path: &Path) -> Result<ModelSpec> {
        let perr = |line: usize, column: usize, message: String| Error::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message,
        };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            perr(
                e.line(),
                e.column(),
                format!("not a downhill model description: {e}"),
            )
        })?;
        let format = value
            .get("format")
            .and_then(|f| f.as_str())
            .unwrap_or_default()
            .to_string();
        let bad =
            |e: serde_json::Error| perr(0, 0, format!("not a downhill model description: {e}"));
        let spec: ModelSpec = match format.as_str() {
            MODEL_FORMAT => serde_json::from_value(value).map_err(bad)?,
            "downhill-model/1" => serde_json::from_value::<SpecV1>(value).map_err(bad)?.into(),
            other => {
                return Err(perr(
                    0,
                    0,
                    format!(
                    "unsupported format {other:?} (expected {MODEL_FORMAT} or downhill-model/1)"
                ),
                ))
            }
        };
        let a = &spec.architecture;
        if activation(&a.activation).is_none()
            || !(0.0..1.0).contains(&a.dropout)
            || a.inputs != spec.schema.width()
        {
            return Err(perr(
                0,
                0,
                format!(
                    "invalid architecture (activation {:?}, dropout {}, {} inputs for {} encoded features)",
                    a.activation,
                    a.dropout,
                    a.inputs,
                    spec.schema.width()
                ),
            ));
        }
        Ok(spec)
    }

    /// The description as pretty JSON (what `model.json` holds).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a model description serializes")
    }

    /// Reads `DIR/model.json` and builds the model with
    /// `DIR/model.safetensors` loaded, in evaluation mode.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::Parse`] naming the file if either is
    /// missing or malformed; [`Error::StateMismatch`] if the weights do not
    /// fit the architecture.
    pub fn load(dir: &Path) -> Result<(ModelSpec, Sequential)> {
        let path = dir.join("model.json");
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let spec = ModelSpec::from_json(&text, &path)?;
        let mut model = spec.architecture.build(0);
        crate::nn::load_safetensors(&model, dir.join("model.safetensors"))?;
        model.eval();
        Ok((spec, model))
    }
}
