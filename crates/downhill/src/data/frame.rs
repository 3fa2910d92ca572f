//! [`Frame`]: a table as it comes — named columns of numbers or text, with
//! missing cells — before a [`Schema`](super::Schema) encodes it.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use super::target::number_label;
use crate::Error;

/// The cell texts read as missing by default (besides any cell that reads
/// as a NaN number).
pub const DEFAULT_NA_VALUES: [&str; 9] =
    ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?"];

/// The code of a missing cell in a [`TextColumn`].
pub const MISSING: u32 = u32::MAX;

/// How a file is read into a [`Frame`].
#[derive(Clone, Debug, Default)]
pub struct FrameOptions {
    /// Cell texts read as missing (after trimming spaces); `None` =
    /// [`DEFAULT_NA_VALUES`].
    pub na_values: Option<Vec<String>>,
    /// CSV field delimiter; 0 means `b','`.
    pub delimiter: u8,
}

impl FrameOptions {
    /// The missing-value tokens in effect.
    pub fn na_values(&self) -> Vec<String> {
        match &self.na_values {
            Some(v) => v.clone(),
            None => DEFAULT_NA_VALUES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A text column, dictionary-encoded: one code per row into `dictionary`
/// ([`MISSING`] for a missing cell). Dictionary entries are distinct and in
/// order of first appearance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextColumn {
    /// One code per row.
    pub codes: Vec<u32>,
    /// The distinct texts.
    pub dictionary: Vec<String>,
}

impl TextColumn {
    /// The text of row `row`, `None` if missing.
    pub fn get(&self, row: usize) -> Option<&str> {
        let c = *self.codes.get(row)?;
        self.dictionary.get(c as usize).map(String::as_str)
    }
}

/// The cells of one column: numbers (NaN = missing) or text.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnValues {
    /// Every present cell is a number; missing cells are NaN.
    Numbers(Vec<f64>),
    /// At least one present cell is not a number (or the file stores text).
    Text(TextColumn),
}

/// One named column of a [`Frame`].
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The column's name (an unnamed column is `Unnamed: I`, 0-based, as
    /// pandas names it).
    pub name: String,
    /// 1-based position in the file (for messages).
    pub position: usize,
    /// The cells.
    pub values: ColumnValues,
}

impl Column {
    /// Number of cells.
    pub fn len(&self) -> usize {
        match &self.values {
            ColumnValues::Numbers(v) => v.len(),
            ColumnValues::Text(t) => t.codes.len(),
        }
    }

    /// Whether the column has no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `row` is missing.
    pub fn is_missing(&self, row: usize) -> bool {
        match &self.values {
            ColumnValues::Numbers(v) => v[row].is_nan(),
            ColumnValues::Text(t) => t.codes[row] == MISSING,
        }
    }

    /// Number of missing cells.
    pub fn missing(&self) -> usize {
        match &self.values {
            ColumnValues::Numbers(v) => v.iter().filter(|x| x.is_nan()).count(),
            ColumnValues::Text(t) => t.codes.iter().filter(|&&c| c == MISSING).count(),
        }
    }

    /// The text of row `row` (a number as `number_label` writes it:
    /// integers without a decimal point), `None` if missing.
    pub fn text(&self, row: usize) -> Option<Cow<'_, str>> {
        match &self.values {
            ColumnValues::Numbers(v) => {
                let x = v[row];
                (!x.is_nan()).then(|| Cow::Owned(number_label(x)))
            }
            ColumnValues::Text(t) => t.get(row).map(Cow::Borrowed),
        }
    }

    /// The rows `rows` of this column, in that order.
    pub fn take(&self, rows: &[usize]) -> Column {
        let values = match &self.values {
            ColumnValues::Numbers(v) => ColumnValues::Numbers(rows.iter().map(|&r| v[r]).collect()),
            ColumnValues::Text(t) => ColumnValues::Text(TextColumn {
                codes: rows.iter().map(|&r| t.codes[r]).collect(),
                dictionary: t.dictionary.clone(),
            }),
        };
        Column {
            name: self.name.clone(),
            position: self.position,
            values,
        }
    }
}

/// A table as read from a file: named columns of numbers or text, with
/// missing cells, and where each row came from (for messages).
///
/// ```
/// use downhill::data::{parse_csv_frame, ColumnValues, FrameOptions};
/// use std::path::Path;
///
/// let f = parse_csv_frame(b"x,island\n1.5,Biscoe\nNA,Dream\n", Path::new("p.csv"), &FrameOptions::default()).unwrap();
/// assert_eq!(f.rows, 2);
/// assert!(f.columns[0].is_missing(1));
/// assert!(matches!(f.columns[1].values, ColumnValues::Text(_)));
/// assert_eq!(f.columns[1].text(0).unwrap(), "Biscoe");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// The file (for messages).
    pub path: PathBuf,
    /// The columns, in file order.
    pub columns: Vec<Column>,
    /// Number of rows.
    pub rows: usize,
    /// The line each row starts on (CSV); `None` when rows have no lines.
    pub lines: Option<Vec<usize>>,
    /// The header's line (CSV), 0 otherwise.
    pub header_line: usize,
}

impl Frame {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The rows `rows`, in that order (lines kept).
    pub fn take_rows(&self, rows: &[usize]) -> Frame {
        Frame {
            path: self.path.clone(),
            columns: self.columns.iter().map(|c| c.take(rows)).collect(),
            rows: rows.len(),
            lines: self
                .lines
                .as_ref()
                .map(|l| rows.iter().map(|&r| l[r]).collect()),
            header_line: self.header_line,
        }
    }

    /// A parse error at row `row` of column `column`: `file:line:column`
    /// for CSV, `file:0:0: … (row R)` otherwise.
    pub fn cell_error(&self, row: usize, column: &Column, message: String) -> Error {
        match &self.lines {
            Some(lines) => Error::Parse {
                path: self.path.clone(),
                line: lines.get(row).copied().unwrap_or(0),
                column: column.position,
                message,
            },
            None => Error::Parse {
                path: self.path.clone(),
                line: 0,
                column: 0,
                message: format!("{message} (row {row})"),
            },
        }
    }

    /// A parse error about the header (a column that is missing, say).
    pub fn header_error(&self, column: usize, message: String) -> Error {
        Error::Parse {
            path: self.path.clone(),
            line: self.header_line,
            column,
            message,
        }
    }

    /// A frame of numeric columns from a row-major matrix (NaN = missing).
    ///
    /// **Panics** if `data.len() != rows × names.len()`.
    pub fn from_matrix(path: &Path, names: &[String], data: &[f64], rows: usize) -> Frame {
        let d = names.len();
        assert_eq!(
            data.len(),
            rows * d,
            "Frame::from_matrix: {rows} rows × {d} columns but {} values",
            data.len()
        );
        let columns = names
            .iter()
            .enumerate()
            .map(|(j, name)| Column {
                name: name.clone(),
                position: j + 1,
                values: ColumnValues::Numbers((0..rows).map(|r| data[r * d + j]).collect()),
            })
            .collect();
        Frame {
            path: path.to_path_buf(),
            columns,
            rows,
            lines: None,
            header_line: 0,
        }
    }
}
