//! [`CsvOptions`]: how a table's target and features are read (CSV and
//! NPY/NPZ readers alike).

use super::Task;

/// Options for reading a CSV table (the NPY/NPZ readers use the target
/// options too).
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {
    /// Target column names; empty = the last column. None of them may be a
    /// feature.
    pub targets: Vec<String>,
    /// Feature column names; `None` = every column that is not a target.
    pub features: Option<Vec<String>>,
    /// The task; `None` = infer: a non-numeric target → classification; a
    /// numeric target whose values are all integers with at most 20 distinct
    /// values (and fewer distinct values than half the rows) →
    /// classification; else regression. Several target columns are never
    /// inferred as classification. With `class_labels` given, `None` means
    /// classification. [`Table::task_inferred`](super::Table::task_inferred) says whether it was inferred.
    pub task: Option<Task>,
    /// Accept NaN/inf/-inf feature or target cells (default: an error naming
    /// the line and column).
    pub allow_non_finite: bool,
    /// When true, the file need not contain the (named) target column(s), as
    /// when predicting; [`Table::target`](super::Table::target) is `None` then. When the target
    /// column is present it is read. With no target names the last column is
    /// the target, whether or not this is set.
    pub target_optional: bool,
    /// For classification: use exactly these labels (a trained model's
    /// classes) — a label not in the list is an error naming the line and
    /// column; classes keep this index order. A numeric cell also matches a
    /// label with the same value ("1.0" matches "1"). `None` = the labels
    /// found in the file, sorted (numerically if all numeric, else
    /// lexicographically).
    pub class_labels: Option<Vec<String>>,
    /// Field delimiter; 0 means `b','`.
    pub delimiter: u8,
}
