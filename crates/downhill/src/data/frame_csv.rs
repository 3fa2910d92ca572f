//! CSV into a [`Frame`]: every column kept, numbers or text, missing cells
//! recognized.

use std::collections::HashMap;
use std::path::Path;

use csv::ByteRecord;

use super::csv::{to_usize, unclosed_quote, LineCounter};
use super::frame::{Column, ColumnValues, Frame, FrameOptions, TextColumn, MISSING};
use super::target::{number_label, quote};
use crate::{Error, Result};

/// One column being read: numbers until a cell is not one, then text.
pub(crate) enum Builder {
    Numbers(Vec<f64>),
    Text {
        codes: Vec<u32>,
        dictionary: Vec<String>,
        index: HashMap<String, u32>,
    },
}

impl Builder {
    fn intern(
        codes: &mut Vec<u32>,
        dictionary: &mut Vec<String>,
        index: &mut HashMap<String, u32>,
        s: &str,
    ) {
        let code = match index.get(s) {
            Some(&c) => c,
            None => {
                let c = dictionary.len() as u32;
                dictionary.push(s.to_string());
                index.insert(s.to_string(), c);
                c
            }
        };
        codes.push(code);
    }

    /// Turns a numeric column into text (numbers as [`number_label`]).
    fn to_text(values: &[f64]) -> Builder {
        let mut codes = Vec::with_capacity(values.len() + 1);
        let mut dictionary = Vec::new();
        let mut index = HashMap::new();
        for &v in values {
            if v.is_nan() {
                codes.push(MISSING);
            } else {
                Self::intern(&mut codes, &mut dictionary, &mut index, &number_label(v));
            }
        }
        Builder::Text {
            codes,
            dictionary,
            index,
        }
    }

    /// Appends a present (not missing) cell; `Err(())` if it is an infinite number.
    pub(crate) fn push(&mut self, cell: &str) -> Result<(), ()> {
        if let Builder::Numbers(v) = self {
            match cell.parse::<f64>() {
                Ok(x) if x.is_infinite() => return Err(()),
                Ok(x) => {
                    v.push(x);
                    return Ok(());
                }
                Err(_) => *self = Self::to_text(v),
            }
        }
        if let Builder::Text {
            codes,
            dictionary,
            index,
        } = self
        {
            Self::intern(codes, dictionary, index, cell);
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    /// Appends a number (text columns take its [`number_label`]); `Err(())`
    /// if it is infinite. NaN is missing.
    pub(crate) fn push_number(&mut self, x: f64) -> Result<(), ()> {
        if x.is_infinite() {
            return Err(());
        }
        match self {
            Builder::Numbers(v) => v.push(x),
            Builder::Text { codes, .. } if x.is_nan() => codes.push(MISSING),
            Builder::Text {
                codes,
                dictionary,
                index,
            } => Self::intern(codes, dictionary, index, &number_label(x)),
        }
        Ok(())
    }

    pub(crate) fn push_missing(&mut self) {
        match self {
            Builder::Numbers(v) => v.push(f64::NAN),
            Builder::Text { codes, .. } => codes.push(MISSING),
        }
    }

    pub(crate) fn finish(self) -> ColumnValues {
        match self {
            Builder::Numbers(v) => ColumnValues::Numbers(v),
            Builder::Text {
                codes, dictionary, ..
            } => ColumnValues::Text(TextColumn { codes, dictionary }),
        }
    }
}

/// Parses CSV bytes into a [`Frame`]; `path` is used only in messages.
///
/// The first record is the header (an empty name becomes `Unnamed: I`, as
/// pandas names its index column). A cell whose trimmed text is one of the
/// missing tokens ([`FrameOptions::na_values`]) or reads as NaN is missing.
/// A column is numeric while every present cell reads as a number, else
/// text. Quoting, BOM, CRLF and blank lines are handled as by
/// [`parse_csv`](super::parse_csv).
///
/// # Errors
///
/// [`Error::Parse`] naming the line and column: an empty file, a header
/// without data rows, a duplicate column name, a row with the wrong number
/// of fields, invalid UTF-8, an unclosed quote, an infinite number.
pub fn parse_csv_frame(bytes: &[u8], path: &Path, opts: &FrameOptions) -> Result<Frame> {
    let err = |line: usize, column: usize, message: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let delimiter = if opts.delimiter == 0 {
        b','
    } else {
        opts.delimiter
    };
    if matches!(delimiter, b'"' | b'\n' | b'\r') {
        return Err(Error::InvalidArgument {
            name: "delimiter".into(),
            message: format!("{:?} cannot be a field delimiter", delimiter as char),
        });
    }
    let na: Vec<String> = opts.na_values();
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(err(1, 0, "empty file: expected a header row".into()));
    }
    if let Some((line, column)) = unclosed_quote(bytes, delimiter) {
        return Err(err(
            line,
            column,
            "unclosed quote: this field's opening \" has no closing \"".into(),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes);
    let mut record = ByteRecord::new();
    let mut counter = LineCounter {
        bytes,
        byte: 0,
        line: 1,
    };
    let mut read = |record: &mut ByteRecord| -> Result<Option<usize>> {
        match reader.read_byte_record(record) {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some(counter.line_of(record))),
            Err(e) => {
                let line = e.position().map_or(0, |p| to_usize(p.line()));
                Err(err(line, 0, format!("malformed CSV: {e}")))
            }
        }
    };
    let Some(header_line) = read(&mut record)? else {
        return Err(err(1, 0, "empty file: expected a header row".into()));
    };
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let name = std::str::from_utf8(field)
            .map_err(|_| err(header_line, i + 1, "column name is not valid UTF-8".into()))?
            .trim();
        names.push(if name.is_empty() {
            format!("Unnamed: {i}")
        } else {
            name.to_string()
        });
    }
    let ncols = names.len();
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ncols);
    for (i, name) in names.iter().enumerate() {
        if let Some(first) = seen.insert(name, i) {
            return Err(err(
                header_line,
                i + 1,
                format!(
                    "duplicate column name {} (columns {} and {})",
                    quote(name),
                    first + 1,
                    i + 1
                ),
            ));
        }
    }
    let mut builders: Vec<Builder> = (0..ncols).map(|_| Builder::Numbers(Vec::new())).collect();
    let mut lines: Vec<usize> = Vec::new();
    while let Some(line) = read(&mut record)? {
        if ncols > 1 && record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if record.len() != ncols {
            return Err(err(
                line,
                record.len().min(ncols) + 1,
                format!(
                    "expected {ncols} fields (as in the header), found {}",
                    record.len()
                ),
            ));
        }
        for (c, b) in builders.iter_mut().enumerate() {
            let cell = std::str::from_utf8(&record[c])
                .map_err(|_| {
                    err(
                        line,
                        c + 1,
                        format!("invalid UTF-8 in column {}", quote(&names[c])),
                    )
                })?
                .trim();
            if na.iter().any(|t| t == cell) {
                b.push_missing();
            } else if b.push(cell).is_err() {
                return Err(err(
                    line,
                    c + 1,
                    format!(
                        "non-finite value {} in column {} (an infinite number; NaN or an empty cell is read as missing)",
                        quote(cell),
                        quote(&names[c])
                    ),
                ));
            }
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return Err(err(header_line, 0, "no data rows after the header".into()));
    }
    let columns = names
        .into_iter()
        .zip(builders)
        .enumerate()
        .map(|(i, (name, b))| Column {
            name,
            position: i + 1,
            values: b.finish(),
        })
        .collect();
    Ok(Frame {
        path: path.to_path_buf(),
        columns,
        rows: lines.len(),
        lines: Some(lines),
        header_line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(s: &str) -> Result<Frame> {
        parse_csv_frame(s.as_bytes(), Path::new("t.csv"), &FrameOptions::default())
    }

    #[test]
    fn missing_tokens_and_nan_are_missing_in_numeric_columns() {
        let f = frame("a,b\n1,x\nNA,?\n,y\nnan,NULL\nN/A,None\n5,null\n").unwrap();
        let ColumnValues::Numbers(a) = &f.columns[0].values else {
            panic!("a is numeric")
        };
        assert_eq!(a.iter().filter(|x| x.is_nan()).count(), 4);
        assert_eq!(f.columns[1].missing(), 4);
        assert_eq!(f.columns[1].text(0).as_deref(), Some("x"));
    }

    #[test]
    fn a_text_cell_turns_a_numeric_column_into_text_keeping_earlier_numbers() {
        let f = frame("a\n1\n2.5\nNA\nx\n1\n").unwrap();
        let ColumnValues::Text(t) = &f.columns[0].values else {
            panic!("a is text")
        };
        assert_eq!(t.dictionary, ["1", "2.5", "x"]);
        assert_eq!(t.codes, [0, 1, MISSING, 2, 0]);
    }

    #[test]
    fn unnamed_columns_get_pandas_names_and_lines_are_kept() {
        let f = frame(",a\n0,1\n\n1,2\n").unwrap();
        assert_eq!(f.names(), ["Unnamed: 0", "a"]);
        assert_eq!(f.lines.as_deref(), Some(&[2, 4][..]));
    }

    #[test]
    fn custom_na_values_replace_the_defaults() {
        let opts = FrameOptions {
            na_values: Some(vec!["-".into()]),
            ..Default::default()
        };
        let f = parse_csv_frame(b"a,b\n-,NA\n1,x\n", Path::new("t"), &opts).unwrap();
        assert!(f.columns[0].is_missing(0));
        assert_eq!(f.columns[1].text(0).as_deref(), Some("NA"));
    }

    #[test]
    fn infinite_numbers_and_ragged_rows_are_errors_at_their_cell() {
        let e = frame("a,b\n1,2\n3,-inf\n").unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:2: non-finite value"), "{e}");
        let e = frame("a,b\n1,2\n3\n").unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:2: expected 2 fields"), "{e}");
    }
}
