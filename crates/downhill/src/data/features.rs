//! The parts of a [`Schema`](super::Schema): how each used column becomes
//! model inputs, the columns left out, and the notes of a transform.

use serde::{Deserialize, Serialize};

/// How one used feature column becomes model inputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum FeatureColumn {
    /// One input (a missing cell gets `median`), plus a 0/1 `NAME=<missing>`
    /// input when the training split had missing cells.
    Numeric {
        /// The column.
        name: String,
        /// Median of the training split's present values (0 if none).
        median: f64,
        /// Whether a "was missing" input follows.
        missing_indicator: bool,
    },
    /// One-hot: an input `NAME=CATEGORY` per category, then `NAME=<other>`
    /// (categories beyond the limit, and unseen ones) and `NAME=<missing>`
    /// when present.
    Categorical {
        /// The column.
        name: String,
        /// Categories with their own input: by frequency in the training
        /// split, then text.
        categories: Vec<String>,
        /// Whether an "other" input follows.
        other: bool,
        /// Whether a "missing" input follows.
        missing: bool,
    },
}

impl FeatureColumn {
    /// The column's name.
    pub fn name(&self) -> &str {
        match self {
            FeatureColumn::Numeric { name, .. } | FeatureColumn::Categorical { name, .. } => name,
        }
    }

    /// How many inputs it becomes.
    pub fn width(&self) -> usize {
        match self {
            FeatureColumn::Numeric {
                missing_indicator, ..
            } => 1 + usize::from(*missing_indicator),
            FeatureColumn::Categorical {
                categories,
                other,
                missing,
                ..
            } => categories.len() + usize::from(*other) + usize::from(*missing),
        }
    }

    /// The names of the inputs it becomes, in order.
    pub fn input_names(&self) -> Vec<String> {
        match self {
            FeatureColumn::Numeric {
                name,
                missing_indicator,
                ..
            } => {
                let mut v = vec![name.clone()];
                if *missing_indicator {
                    v.push(format!("{name}=<missing>"));
                }
                v
            }
            FeatureColumn::Categorical {
                name,
                categories,
                other,
                missing,
            } => {
                let mut v: Vec<String> = categories.iter().map(|c| format!("{name}={c}")).collect();
                if *other {
                    v.push(format!("{name}=<other>"));
                }
                if *missing {
                    v.push(format!("{name}=<missing>"));
                }
                v
            }
        }
    }
}

/// A column the schema leaves out, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DroppedColumn {
    /// The column.
    pub name: String,
    /// Why it is not used.
    pub why: String,
}

/// What [`Schema::transform`](super::Schema::transform) did beyond plain encoding, for notices.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransformNotes {
    /// Columns of the file the schema does not use (neither features nor
    /// dropped at training), ignored.
    pub extra_columns: Vec<String>,
    /// Per categorical column, cells with a category not seen in training
    /// (encoded as "other", or all zeros).
    pub unseen: Vec<(String, usize)>,
    /// Per column, missing cells imputed (median or the missing category;
    /// all zeros for a category never missing in training).
    pub imputed: Vec<(String, usize)>,
}
