//! A table of numeric features and a target, as read from a file.

use serde::{Deserialize, Serialize};

/// What a model learns: class labels or real values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Predict one of several class labels (cross-entropy, accuracy, F1).
    Classification,
    /// Predict one or more real values (MSE, RMSE, MAE, R²).
    Regression,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        })
    }
}

impl std::str::FromStr for Task {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "classification" | "classify" | "class" => Ok(Task::Classification),
            "regression" | "regress" => Ok(Task::Regression),
            _ => Err(format!(
                "unknown task {s:?}; expected classification or regression"
            )),
        }
    }
}

/// The target column(s) of a [`Table`].
#[derive(Clone, Debug, PartialEq)]
pub enum TargetColumn {
    /// One class index per row; `labels[i]` is the label of class `i`.
    Classes {
        /// Class index of each row.
        indices: Vec<usize>,
        /// The label text of each class, in index order.
        labels: Vec<String>,
    },
    /// `width` real values per row, row-major.
    Values {
        /// The values, `rows × width`.
        values: Vec<f64>,
        /// Number of target columns.
        width: usize,
    },
}

/// Numeric features and (optionally) a target, read from a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The feature columns' names, in order.
    pub feature_names: Vec<String>,
    /// The target column names (empty when the file has no target).
    pub target_names: Vec<String>,
    /// Features, row-major: `rows × feature_names.len()`.
    pub features: Vec<f64>,
    /// Number of rows (samples).
    pub rows: usize,
    /// The target, if one was read.
    pub target: Option<TargetColumn>,
    /// The task: given by the caller, or inferred from the target.
    pub task: Option<Task>,
    /// Whether `task` was inferred (the CLI prints a notice then).
    pub task_inferred: bool,
}

impl Table {
    /// Number of feature columns.
    pub fn num_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Class labels, for a classification target.
    pub fn class_labels(&self) -> Option<&[String]> {
        match &self.target {
            Some(TargetColumn::Classes { labels, .. }) => Some(labels),
            _ => None,
        }
    }
}
