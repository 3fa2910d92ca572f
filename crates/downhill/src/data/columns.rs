//! Column kinds: each feature column of a [`Frame`] is numeric,
//! categorical or dropped — inferred from its cells, or set by the user.

use std::borrow::Cow;
use std::collections::HashSet;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::frame::{Column, ColumnValues, Frame, MISSING};
use super::target::{name_list, quote};
use crate::{Error, Result};

/// Default [`SchemaOptions::max_categories`].
pub const DEFAULT_MAX_CATEGORIES: usize = 32;

/// Distinct values counted at most, per numeric column (beyond it the
/// count is reported as "at least").
const DISTINCT_CAP: usize = 1000;

/// Overrides of the inferred column kinds, and the one-hot limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemaOptions {
    /// Columns to one-hot encode whatever their cells.
    pub categorical: Vec<String>,
    /// Columns to read as numbers (a cell that is not a number is an error).
    pub numeric: Vec<String>,
    /// Columns to leave out.
    pub drop: Vec<String>,
    /// Most one-hot columns per categorical column: above it, the most
    /// frequent `max_categories − 1` categories keep a column and the rest
    /// share an "other" column.
    pub max_categories: usize,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        SchemaOptions {
            categorical: vec![],
            numeric: vec![],
            drop: vec![],
            max_categories: DEFAULT_MAX_CATEGORIES,
        }
    }
}

/// What becomes of a feature column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Read as numbers: missing cells imputed, then scaled.
    Numeric,
    /// One-hot encoded.
    Categorical,
    /// Not used.
    Dropped,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Numeric => "numeric",
            Kind::Categorical => "categorical",
            Kind::Dropped => "dropped",
        })
    }
}

/// A column's inferred (or set) kind and what was seen in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnReport {
    /// The column.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Why: "numbers", "text", "set by --categorical", "constant", ….
    pub why: String,
    /// Missing cells.
    pub missing: usize,
    /// Distinct present values (at least this many when `distinct_capped`).
    pub distinct: usize,
    /// Whether counting stopped at a cap (numeric columns with many values).
    pub distinct_capped: bool,
    /// Up to three distinct values, in order of appearance.
    pub examples: Vec<String>,
    /// Whether its present cells are all numbers.
    pub numbers: bool,
}

/// The present cells of `column` as numbers (NaN = missing); a text column
/// whose every present cell reads as a number converts.
///
/// # Errors
///
/// [`Error::Parse`] at the first cell that is not a number.
pub fn numeric_cells<'a>(frame: &Frame, column: &'a Column) -> Result<Cow<'a, [f64]>> {
    match &column.values {
        ColumnValues::Numbers(v) => Ok(Cow::Borrowed(v)),
        ColumnValues::Text(t) => {
            let parsed: Vec<Option<f64>> = t
                .dictionary
                .iter()
                .map(|s| s.parse::<f64>().ok().filter(|x| x.is_finite()))
                .collect();
            let mut out = Vec::with_capacity(t.codes.len());
            for (row, &c) in t.codes.iter().enumerate() {
                if c == MISSING {
                    out.push(f64::NAN);
                    continue;
                }
                match parsed[c as usize] {
                    Some(x) => out.push(x),
                    None => {
                        return Err(frame.cell_error(
                            row,
                            column,
                            format!(
                                "non-numeric value {} in column {}, which is numeric",
                                quote(&t.dictionary[c as usize]),
                                quote(&column.name)
                            ),
                        ))
                    }
                }
            }
            Ok(Cow::Owned(out))
        }
    }
}

/// Checks that every override names a column of `frame` that is not a
/// target, and that no column is given two kinds.
fn check_overrides(frame: &Frame, targets: &[String], opts: &SchemaOptions) -> Result<()> {
    let lists = [
        ("categorical", &opts.categorical),
        ("numeric", &opts.numeric),
        ("drop", &opts.drop),
    ];
    for (i, (flag, list)) in lists.iter().enumerate() {
        for name in list.iter() {
            if frame.column(name).is_none() {
                return Err(Error::InvalidArgument {
                    name: (*flag).into(),
                    message: format!(
                        "no column {} in {} (columns: {})",
                        quote(name),
                        frame.path.display(),
                        name_list(&frame.names())
                    ),
                });
            }
            if targets.contains(name) {
                return Err(Error::InvalidArgument {
                    name: (*flag).into(),
                    message: format!("{} is the target, not a feature", quote(name)),
                });
            }
            if let Some((other, _)) = lists[i + 1..].iter().find(|(_, l)| l.contains(name)) {
                return Err(Error::InvalidArgument {
                    name: (*flag).into(),
                    message: format!("column {} is also listed by --{other}", quote(name)),
                });
            }
        }
    }
    Ok(())
}

/// The kind of every feature column of `frame` (every column not in
/// `targets`), in file order.
///
/// Inference, over all rows: a column listed in `opts` takes that kind; a
/// column missing in every row, or constant (one value, never missing), is
/// dropped; an integer column counting the rows (0, 1, 2, … or 1, 2, 3, …,
/// as an index written by pandas or R) is dropped; a text column with more
/// than `max_categories` distinct values making up at least 90% of its
/// present cells (names, ids) is dropped; other text columns are
/// categorical (booleans such as yes/no too); other numeric columns are
/// numeric, even with few distinct integers.
///
/// # Errors
///
/// [`Error::InvalidArgument`] (named `categorical`, `numeric` or `drop`)
/// for an override naming no column, the target, or a column given two
/// kinds; [`Error::Parse`] at the first non-number of a column set numeric.
pub fn infer_columns(
    frame: &Frame,
    targets: &[String],
    opts: &SchemaOptions,
) -> Result<Vec<ColumnReport>> {
    check_overrides(frame, targets, opts)?;
    // Columns are looked at in parallel; the first error in column order wins.
    let columns: Vec<&Column> = frame
        .columns
        .iter()
        .filter(|c| !targets.contains(&c.name))
        .collect();
    let reports: Vec<Result<ColumnReport>> = columns
        .par_iter()
        .map(|column| infer_one(frame, column, opts))
        .collect();
    reports.into_iter().collect()
}

fn infer_one(frame: &Frame, column: &Column, opts: &SchemaOptions) -> Result<ColumnReport> {
    let missing = column.missing();
    let (distinct, capped, examples) = distinct_values(column);
    let numbers = matches!(column.values, ColumnValues::Numbers(_));
    let mut r = ColumnReport {
        name: column.name.clone(),
        kind: Kind::Numeric,
        why: String::new(),
        missing,
        distinct,
        distinct_capped: capped,
        examples,
        numbers,
    };
    let set = |r: &mut ColumnReport, kind: Kind, why: String| {
        r.kind = kind;
        r.why = why;
    };
    let name = &column.name;
    if opts.drop.contains(name) {
        set(&mut r, Kind::Dropped, "set by --drop".into());
    } else if opts.categorical.contains(name) {
        set(&mut r, Kind::Categorical, "set by --categorical".into());
    } else if opts.numeric.contains(name) {
        numeric_cells(frame, column)?;
        set(&mut r, Kind::Numeric, "set by --numeric".into());
    } else if missing == frame.rows {
        set(&mut r, Kind::Dropped, "missing in every row".into());
    } else if distinct <= 1 && missing == 0 {
        let v = r.examples.first().cloned().unwrap_or_default();
        set(
            &mut r,
            Kind::Dropped,
            format!("constant: every row is {}", quote(&v)),
        );
    } else if let Some(start) = row_counter(column) {
        set(
            &mut r,
            Kind::Dropped,
            format!(
                "counts the rows ({start}, {}, {}, …): a row index, not a feature",
                start + 1,
                start + 2
            ),
        );
    } else if numbers {
        set(&mut r, Kind::Numeric, "numbers".into());
    } else if distinct > opts.max_categories && distinct * 10 >= (frame.rows - missing) * 9 {
        set(
            &mut r,
            Kind::Dropped,
            format!("text with a distinct value in nearly every row ({distinct} of {}): an id or a name", frame.rows - missing),
        );
    } else {
        set(&mut r, Kind::Categorical, "text".into());
    }
    Ok(r)
}

/// Distinct present values (capped for numbers), whether capped, and up to
/// three examples.
fn distinct_values(column: &Column) -> (usize, bool, Vec<String>) {
    match &column.values {
        ColumnValues::Text(t) => {
            let mut used = vec![false; t.dictionary.len()];
            let mut order = Vec::new();
            for &c in &t.codes {
                if c != MISSING && !used[c as usize] {
                    used[c as usize] = true;
                    order.push(c as usize);
                }
            }
            let examples = order
                .iter()
                .take(3)
                .map(|&i| t.dictionary[i].clone())
                .collect();
            (order.len(), false, examples)
        }
        ColumnValues::Numbers(v) => {
            let mut seen = HashSet::new();
            let mut examples = Vec::new();
            for x in v.iter().filter(|x| !x.is_nan()) {
                let key = if *x == 0.0 { 0 } else { x.to_bits() };
                if seen.insert(key) && examples.len() < 3 {
                    examples.push(super::target::number_label(*x));
                }
                if seen.len() >= DISTINCT_CAP {
                    return (seen.len(), true, examples);
                }
            }
            (seen.len(), false, examples)
        }
    }
}

/// `Some(start)` if the column holds `start, start+1, …` in row order with
/// `start` 0 or 1 and at least three rows.
fn row_counter(column: &Column) -> Option<u64> {
    let ColumnValues::Numbers(v) = &column.values else {
        return None;
    };
    let start = *v.first()?;
    if v.len() < 3 || !(start == 0.0 || start == 1.0) {
        return None;
    }
    v.iter()
        .enumerate()
        .all(|(i, &x)| x == start + i as f64)
        .then_some(start as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{parse_csv_frame, FrameOptions};
    use std::path::Path;

    fn kinds(csv: &str, opts: &SchemaOptions) -> Vec<(String, Kind, String)> {
        let f =
            parse_csv_frame(csv.as_bytes(), Path::new("t.csv"), &FrameOptions::default()).unwrap();
        infer_columns(&f, &["y".into()], opts)
            .unwrap()
            .into_iter()
            .map(|r| (r.name, r.kind, r.why))
            .collect()
    }

    #[test]
    fn infers_numeric_categorical_and_each_reason_to_drop() {
        let mut csv = String::from(",count,const,empty,name,island,flag,y\n");
        for i in 0..40 {
            let island = ["Biscoe", "Dream"][i % 2];
            let flag = ["yes", "no", "NA"][i % 3];
            csv.push_str(&format!(
                "{i},{},7,NA,p{i},{island},{flag},{}\n",
                i % 3,
                i % 2
            ));
        }
        let k = kinds(&csv, &SchemaOptions::default());
        let by = |n: &str| k.iter().find(|(name, ..)| name == n).unwrap().clone();
        assert_eq!(by("Unnamed: 0").1, Kind::Dropped);
        assert!(
            by("Unnamed: 0").2.contains("row index"),
            "{:?}",
            by("Unnamed: 0")
        );
        assert_eq!(
            by("count").1,
            Kind::Numeric,
            "few distinct integers stay numeric"
        );
        assert!(by("const").2.starts_with("constant"));
        assert_eq!(by("empty").2, "missing in every row");
        assert!(by("name").2.contains("an id or a name"));
        assert_eq!(by("island").1, Kind::Categorical);
        assert_eq!(by("flag").1, Kind::Categorical);
        assert_eq!(k.len(), 7, "the target is not a feature");
    }

    #[test]
    fn overrides_win_and_are_checked() {
        let csv = "a,b,y\n1,x,0\n2,y,1\n3,z,0\n";
        let opts = SchemaOptions {
            categorical: vec!["a".into()],
            drop: vec!["b".into()],
            ..Default::default()
        };
        let k = kinds(csv, &opts);
        assert_eq!((k[0].1, k[1].1), (Kind::Categorical, Kind::Dropped));
        let f =
            parse_csv_frame(csv.as_bytes(), Path::new("t.csv"), &FrameOptions::default()).unwrap();
        let bad = SchemaOptions {
            numeric: vec!["nope".into()],
            ..Default::default()
        };
        let e = infer_columns(&f, &["y".into()], &bad)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("numeric: no column \"nope\" in t.csv"), "{e}");
        let forced = SchemaOptions {
            numeric: vec!["b".into()],
            ..Default::default()
        };
        let e = infer_columns(&f, &["y".into()], &forced)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "t.csv:2:2: non-numeric value \"x\" in column \"b\", which is numeric"
        );
    }
}
