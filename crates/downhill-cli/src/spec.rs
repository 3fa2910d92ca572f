//! `model.json`: everything needed besides the weights to use a trained
//! model — architecture, feature and class names, scalers.

use std::path::Path;

use downhill::data::{Scaler, Task};
use downhill::nn::{
    Dropout, LeakyReLU, Linear, Mish, Module, ReLU, Sequential, SiLU, Sigmoid, Softplus, Tanh,
    CELU, ELU, GELU, SELU,
};
use downhill::Generator;
use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

/// The activations `--activation` accepts.
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

/// The activation module for `name`.
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

/// A trained model's description, saved as `model.json` beside `model.safetensors`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ModelSpec {
    /// `downhill-model/1`.
    pub format: String,
    /// Classification or regression.
    pub task: Task,
    /// The architecture.
    pub architecture: Architecture,
    /// Input feature names, in the order the model reads them.
    pub feature_names: Vec<String>,
    /// Target column names.
    pub target_names: Vec<String>,
    /// Class labels in output order (classification).
    pub class_labels: Option<Vec<String>>,
    /// Feature scaling fitted on the training split.
    pub scaler: Scaler,
    /// Target standardization (regression), fitted on the training split.
    pub target_scaler: Scaler,
    /// The loss it was trained with (PyTorch name) and its options.
    pub loss: String,
    /// The loss's options.
    pub loss_options: serde_json::Value,
}

/// A multilayer perceptron: `Linear → activation (→ Dropout)` per hidden
/// layer, then a `Linear` output layer — PyTorch's `nn.Sequential` names.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Architecture {
    /// `mlp`.
    pub kind: String,
    /// Number of input features.
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

impl ModelSpec {
    /// Reads `DIR/model.json` and builds the model with `DIR/model.safetensors` loaded.
    ///
    /// **Errors** naming the file if either is missing, malformed or does not match.
    pub fn load(dir: &Path) -> Result<(ModelSpec, Sequential)> {
        let path = dir.join("model.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            CliError::Lib(downhill::Error::Io {
                path: path.clone(),
                source: e,
            })
        })?;
        let spec: ModelSpec = serde_json::from_str(&text).map_err(|e| {
            CliError::Lib(downhill::Error::Parse {
                path: path.clone(),
                line: e.line(),
                column: e.column(),
                message: format!("not a downhill model description: {e}"),
            })
        })?;
        if spec.format != "downhill-model/1" {
            return Err(CliError::Other(format!(
                "{}: unsupported format {:?} (expected downhill-model/1)",
                path.display(),
                spec.format
            )));
        }
        if activation(&spec.architecture.activation).is_none()
            || !(0.0..1.0).contains(&spec.architecture.dropout)
        {
            return Err(CliError::Other(format!(
                "{}: invalid architecture (activation {:?}, dropout {})",
                path.display(),
                spec.architecture.activation,
                spec.architecture.dropout
            )));
        }
        let mut model = spec.architecture.build(0);
        downhill::nn::load_safetensors(&model, dir.join("model.safetensors"))?;
        model.eval();
        Ok((spec, model))
    }
}
