//! Building a table's target from parsed cells — task inference and class
//! labels — shared by the CSV and NPY readers, plus message helpers.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use super::csv_options::CsvOptions;
use super::{TargetColumn, Task};
use crate::{Error, Result};

/// Most distinct integer values a numeric target may have to be inferred as
/// classification.
const MAX_INFERRED_CLASSES: usize = 20;

/// `s` quoted for a message, truncated to about 40 characters.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        None => format!("{s:?}"),
        Some((end, _)) => format!("{:?}…", &s[..end]),
    }
}

/// A short, comma-separated list of quoted names: at most about 80
/// characters, then "… (N more)".
pub(crate) fn name_list<S: AsRef<str>>(names: &[S]) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        let q = quote(name.as_ref());
        if i > 0 && out.len() + q.len() > MAX {
            out.push_str(&format!(", … ({} more)", names.len() - i));
            break;
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&q);
    }
    out
}

/// Cell texts of one column: stored in one buffer (no allocation per
/// cell), or as a frame's text column keeps them, codes into a dictionary.
#[derive(Debug)]
pub(crate) enum TextCells {
    /// Each cell's text, one after another in `buf`; cell `i` ends at `ends[i]`.
    Cells { buf: String, ends: Vec<usize> },
    /// Cell `i` is `dictionary[codes[i]]` (distinct entries).
    Coded {
        codes: Vec<u32>,
        dictionary: Vec<String>,
    },
}

impl Default for TextCells {
    fn default() -> Self {
        TextCells::Cells {
            buf: String::new(),
            ends: Vec::new(),
        }
    }
}

impl TextCells {
    /// Appends a cell.
    ///
    /// # Panics
    ///
    /// On coded cells, which are built whole.
    pub(crate) fn push(&mut self, s: &str) {
        match self {
            TextCells::Cells { buf, ends } => {
                buf.push_str(s);
                ends.push(buf.len());
            }
            TextCells::Coded { .. } => panic!("TextCells::push: coded cells are built whole"),
        }
    }

    /// Cell `i` (empty if out of range).
    pub(crate) fn get(&self, i: usize) -> &str {
        match self {
            TextCells::Cells { buf, ends } => {
                let start = if i == 0 {
                    0
                } else {
                    ends.get(i - 1).copied().unwrap_or(0)
                };
                let end = ends.get(i).copied().unwrap_or(start);
                buf.get(start..end).unwrap_or("")
            }
            TextCells::Coded { codes, dictionary } => codes
                .get(i)
                .and_then(|&c| dictionary.get(c as usize))
                .map_or("", String::as_str),
        }
    }

    /// The first `rows` cells numbered by first appearance: each cell's
    /// number, and the distinct texts in that order.
    fn first_seen(&self, rows: usize) -> (Vec<usize>, Vec<&str>) {
        let mut indices = Vec::with_capacity(rows);
        let mut distinct: Vec<&str> = Vec::new();
        match self {
            TextCells::Coded { codes, dictionary } => {
                // Distinct codes are distinct texts: looked up by code.
                let mut number: Vec<Option<usize>> = vec![None; dictionary.len() + 1];
                for &c in codes.iter().take(rows) {
                    let slot = (c as usize).min(dictionary.len());
                    let i = *number[slot].get_or_insert_with(|| {
                        distinct.push(dictionary.get(c as usize).map_or("", String::as_str));
                        distinct.len() - 1
                    });
                    indices.push(i);
                }
            }
            TextCells::Cells { .. } => {
                let mut seen: HashMap<&str, usize> = HashMap::new();
                for row in 0..rows {
                    let s = self.get(row);
                    let next = distinct.len();
                    let i = *seen.entry(s).or_insert(next);
                    if i == next {
                        distinct.push(s);
                    }
                    indices.push(i);
                }
            }
        }
        (indices, distinct)
    }
}

/// One target column as read from a file, before the task is decided.
#[derive(Debug)]
pub(crate) struct RawTarget {
    /// Column name.
    pub name: String,
    /// 1-based column in the file; 0 for arrays.
    pub column: usize,
    /// Cell texts (CSV); `None` for arrays, whose labels are the values' text.
    pub text: Option<TextCells>,
    /// Each cell's value; `None` when the cell is not a number.
    pub values: Vec<Option<f64>>,
}

impl RawTarget {
    fn cell_text(&self, row: usize) -> Cow<'_, str> {
        match (&self.text, self.values.get(row)) {
            (Some(t), _) => Cow::Borrowed(t.get(row)),
            (None, Some(Some(v))) => Cow::Owned(number_label(*v)),
            (None, _) => Cow::Borrowed(""),
        }
    }
}

/// Where cells are, for error messages.
pub(crate) struct Location<'a> {
    /// The file.
    pub path: &'a Path,
    /// The line of each row (CSV); `None` for arrays (messages say the row).
    pub lines: Option<&'a [usize]>,
    /// The header's line (CSV), 0 for arrays.
    pub header_line: usize,
}

impl Location<'_> {
    /// A parse error at a cell of target `t`.
    fn cell(&self, row: usize, t: &RawTarget, message: String) -> Error {
        match self.lines {
            Some(lines) => Error::Parse {
                path: self.path.to_path_buf(),
                line: lines.get(row).copied().unwrap_or(0),
                column: t.column,
                message,
            },
            None => Error::Parse {
                path: self.path.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("{message} (row {row})"),
            },
        }
    }

    /// A parse error about a whole target column.
    fn column(&self, t: &RawTarget, message: String) -> Error {
        Error::Parse {
            path: self.path.to_path_buf(),
            line: self.header_line,
            column: t.column,
            message,
        }
    }
}

/// The text of a numeric class label: integers without a decimal point
/// ("3"), other values as Rust prints them ("0.5", "NaN").
pub(crate) fn number_label(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A hashable key for a numeric label (all NaNs equal, -0 = 0).
fn number_key(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// Decides the task and builds the target column: see [`CsvOptions`] for
/// the rules. Returns the target, the task and whether it was inferred.
pub(crate) fn build_target(
    targets: &[RawTarget],
    rows: usize,
    opts: &CsvOptions,
    at: &Location<'_>,
) -> Result<(TargetColumn, Task, bool)> {
    if targets.is_empty() {
        return Err(Error::InvalidArgument {
            name: "targets".into(),
            message: "no target column".into(),
        });
    }
    // Non-finite values.
    if !opts.allow_non_finite {
        for t in targets {
            for (row, v) in t.values.iter().enumerate() {
                if matches!(v, Some(v) if !v.is_finite()) {
                    return Err(at.cell(
                        row,
                        t,
                        format!(
                            "non-finite value {} in target column {}",
                            quote(&t.cell_text(row)),
                            quote(&t.name)
                        ),
                    ));
                }
            }
        }
    }
    let (task, inferred) = match opts.task {
        Some(task) => (task, false),
        None if opts.class_labels.is_some() => (Task::Classification, false),
        None => (infer_task(targets, rows), true),
    };
    match task {
        Task::Classification => {
            if targets.len() > 1 {
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                return Err(at.column(
                    &targets[1],
                    format!(
                        "classification takes one target column, got {}: {}",
                        targets.len(),
                        name_list(&names)
                    ),
                ));
            }
            let (indices, labels) = classes(&targets[0], rows, opts, at)?;
            Ok((TargetColumn::Classes { indices, labels }, task, inferred))
        }
        Task::Regression => {
            if opts.class_labels.is_some() {
                return Err(Error::InvalidArgument {
                    name: "class_labels".into(),
                    message: "class labels given for a regression task".into(),
                });
            }
            let width = targets.len();
            let mut values = Vec::with_capacity(rows.saturating_mul(width));
            for row in 0..rows {
                for t in targets {
                    match t.values.get(row).copied().flatten() {
                        Some(v) => values.push(v),
                        None => {
                            let why = if inferred && targets.len() > 1 {
                                "several target columns mean regression, which needs numbers"
                            } else {
                                "the task is regression, which needs numbers"
                            };
                            return Err(at.cell(
                                row,
                                t,
                                format!(
                                    "non-numeric value {} in target column {} ({why})",
                                    quote(&t.cell_text(row)),
                                    quote(&t.name)
                                ),
                            ));
                        }
                    }
                }
            }
            Ok((TargetColumn::Values { values, width }, task, inferred))
        }
    }
}

/// The inferred task: a non-numeric target → classification; integers with
/// few distinct values → classification; else regression.
fn infer_task(targets: &[RawTarget], rows: usize) -> Task {
    if targets.len() > 1 {
        return Task::Regression;
    }
    let t = &targets[0];
    if t.values.iter().any(Option::is_none) {
        return Task::Classification;
    }
    let mut distinct: Vec<u64> = Vec::new();
    for v in t.values.iter().flatten() {
        if !v.is_finite() || v.fract() != 0.0 {
            return Task::Regression;
        }
        let k = number_key(*v);
        if !distinct.contains(&k) {
            if distinct.len() == MAX_INFERRED_CLASSES {
                return Task::Regression;
            }
            distinct.push(k);
        }
    }
    if distinct.len() * 2 < rows {
        Task::Classification
    } else {
        Task::Regression
    }
}

/// Class indices and labels of a classification target.
fn classes(
    t: &RawTarget,
    rows: usize,
    opts: &CsvOptions,
    at: &Location<'_>,
) -> Result<(Vec<usize>, Vec<String>)> {
    let all_numeric = t.values.iter().all(Option::is_some);
    let mut indices = Vec::with_capacity(rows);
    if let Some(given) = &opts.class_labels {
        if given.len() < 2 {
            return Err(Error::InvalidArgument {
                name: "class_labels".into(),
                message: format!("need at least two classes, got {}", given.len()),
            });
        }
        let mut by_text: HashMap<&str, usize> = HashMap::with_capacity(given.len());
        let mut by_number: HashMap<u64, usize> = HashMap::new();
        for (i, label) in given.iter().enumerate() {
            if by_text.insert(label.as_str(), i).is_some() {
                return Err(Error::InvalidArgument {
                    name: "class_labels".into(),
                    message: format!("label {} is listed twice", quote(label)),
                });
            }
            if let Ok(v) = label.trim().parse::<f64>() {
                by_number.entry(number_key(v)).or_insert(i);
            }
        }
        for row in 0..rows {
            let text = t.cell_text(row);
            let found = by_text.get(text.as_ref()).copied().or_else(|| {
                let v = t.values.get(row).copied().flatten()?;
                by_number.get(&number_key(v)).copied()
            });
            match found {
                Some(i) => indices.push(i),
                None => {
                    return Err(at.cell(
                        row,
                        t,
                        format!(
                            "label {} in column {} is not one of the classes: {}",
                            quote(&text),
                            quote(&t.name),
                            name_list(given)
                        ),
                    ))
                }
            }
        }
        return Ok((indices, given.clone()));
    }
    let labels: Vec<String> = if all_numeric {
        let mut seen: HashMap<u64, usize> = HashMap::new();
        let mut distinct: Vec<f64> = Vec::new();
        for v in t.values.iter().flatten() {
            let next = distinct.len();
            let i = *seen.entry(number_key(*v)).or_insert(next);
            if i == next {
                distinct.push(*v);
            }
            indices.push(i);
        }
        let mut order: Vec<usize> = (0..distinct.len()).collect();
        order.sort_by(|&a, &b| distinct[a].total_cmp(&distinct[b]));
        remap(&mut indices, &order);
        order.iter().map(|&i| number_label(distinct[i])).collect()
    } else {
        let text = match &t.text {
            Some(text) => text,
            None => return Err(at.column(t, "non-numeric labels without text".into())),
        };
        let (found, distinct) = text.first_seen(rows);
        indices = found;
        let mut order: Vec<usize> = (0..distinct.len()).collect();
        order.sort_by(|&a, &b| distinct[a].cmp(distinct[b]));
        remap(&mut indices, &order);
        order.iter().map(|&i| distinct[i].to_string()).collect()
    };
    if labels.len() < 2 {
        let only = labels.first().map(|l| quote(l)).unwrap_or_default();
        return Err(at.column(
            t,
            format!(
                "target column {} has a single class {only}; classification needs at least two",
                quote(&t.name)
            ),
        ));
    }
    Ok((indices, labels))
}

/// Renumbers first-seen indices so that `order[new] = old`.
fn remap(indices: &mut [usize], order: &[usize]) {
    let mut new_of_old = vec![0; order.len()];
    for (new, &old) in order.iter().enumerate() {
        new_of_old[old] = new;
    }
    for i in indices {
        *i = new_of_old[*i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(values: &[f64]) -> RawTarget {
        RawTarget {
            name: "y".into(),
            column: 0,
            text: None,
            values: values.iter().map(|&v| Some(v)).collect(),
        }
    }

    fn at() -> Location<'static> {
        Location {
            path: Path::new("t.npy"),
            lines: None,
            header_line: 0,
        }
    }

    #[test]
    fn quote_truncates_on_char_boundaries() {
        assert_eq!(quote("abc"), "\"abc\"");
        let long = "é".repeat(100);
        let q = quote(&long);
        assert!(q.ends_with('…') && q.chars().count() == 43, "{q}");
    }

    #[test]
    fn name_list_is_short() {
        let names: Vec<String> = (0..100).map(|i| format!("column{i}")).collect();
        let l = name_list(&names);
        assert!(l.len() < 120 && l.contains("more)"), "{l}");
        assert_eq!(name_list(&["a", "b"]), "\"a\", \"b\"");
    }

    #[test]
    fn text_cells() {
        let mut c = TextCells::default();
        c.push("ab");
        c.push("");
        c.push("c");
        assert_eq!(
            (c.get(0), c.get(1), c.get(2), c.get(3)),
            ("ab", "", "c", "")
        );
    }

    #[test]
    fn number_labels() {
        assert_eq!(number_label(3.0), "3");
        assert_eq!(number_label(-0.0), "0");
        assert_eq!(number_label(0.5), "0.5");
    }

    #[test]
    fn infers_integer_classes_sorted_numerically() {
        let t = numeric(&[10.0, 2.0, 2.0, 10.0, 1.0, 1.0, 2.0]);
        let (col, task, inferred) = build_target(&[t], 7, &CsvOptions::default(), &at()).unwrap();
        assert_eq!((task, inferred), (Task::Classification, true));
        let TargetColumn::Classes { indices, labels } = col else {
            panic!()
        };
        assert_eq!(labels, ["1", "2", "10"]);
        assert_eq!(indices, [2, 1, 1, 2, 0, 0, 1]);
    }

    #[test]
    fn infers_regression() {
        // Too many distinct values for the row count.
        let t = numeric(&[1.0, 2.0, 3.0, 1.0]);
        let (_, task, _) = build_target(&[t], 4, &CsvOptions::default(), &at()).unwrap();
        assert_eq!(task, Task::Regression);
        let t = numeric(&[0.5, 1.0, 0.5, 1.0, 0.5]);
        let (_, task, _) = build_target(&[t], 5, &CsvOptions::default(), &at()).unwrap();
        assert_eq!(task, Task::Regression);
    }

    #[test]
    fn single_class_is_an_error() {
        let t = numeric(&[1.0; 6]);
        let e = build_target(&[t], 6, &CsvOptions::default(), &at()).unwrap_err();
        assert!(e.to_string().contains("single class \"1\""), "{e}");
    }
}
