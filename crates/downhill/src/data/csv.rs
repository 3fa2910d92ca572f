//! CSV reading with errors that name the file, line and column.

use std::collections::HashMap;
use std::path::Path;

use csv::ByteRecord;

pub use super::csv_options::CsvOptions;
use super::target::{build_target, name_list, quote, Location, RawTarget, TextCells};
use super::Table;
use crate::{Error, Result};

/// Reads a CSV table from a file: see [`parse_csv`].
///
/// # Errors
///
/// [`Error::Io`] naming the file if it cannot be read, else as
/// [`parse_csv`].
///
/// # Example
///
/// ```
/// use downhill::data::{read_csv, CsvOptions};
///
/// let path = std::env::temp_dir().join(format!("downhill-doc-{}.csv", std::process::id()));
/// std::fs::write(&path, "x,y\n1,a\n2,b\n3,a\n").unwrap();
/// let table = read_csv(&path, &CsvOptions::default()).unwrap();
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(table.rows, 3);
/// assert_eq!(table.class_labels().unwrap(), ["a", "b"]);
/// ```
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_csv(&bytes, path, opts)
}

/// Parses a CSV table from bytes; `path` is used only in error messages.
///
/// The first record is the header. A UTF-8 byte-order mark, quoted fields
/// (with delimiters, quotes and newlines inside) and CRLF line ends are
/// accepted; spaces around numbers are ignored; numbers are read with Rust's
/// `f64` parser. Blank lines are skipped.
///
/// # Errors
///
/// [`Error::Parse`] naming the line (where the record starts, counting
/// physical lines) and the column (1-based field number; 0 when no single
/// column is at fault): an empty file, a header without data rows, an empty
/// or duplicate column name, a row with the wrong number of fields, an empty
/// cell, a non-numeric feature, a NaN or infinite value (unless
/// [`CsvOptions::allow_non_finite`]), a missing target or unknown feature
/// column, a target also listed as a feature, a classification target with
/// fewer than two classes or several target columns, a non-numeric
/// regression target. [`Error::InvalidArgument`] for inconsistent options.
///
/// # Example
///
/// ```
/// use downhill::data::{parse_csv, CsvOptions, Task};
/// use std::path::Path;
///
/// let csv = b"a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n";
/// let table = parse_csv(csv, Path::new("pets.csv"), &CsvOptions::default()).unwrap();
/// assert_eq!(table.feature_names, ["a", "b"]);
/// assert_eq!(table.features, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// assert_eq!(table.task, Some(Task::Classification));
/// assert_eq!(table.class_labels().unwrap(), ["cat", "dog"]);
///
/// let err = parse_csv(b"a,b\n1,x\n", Path::new("bad.csv"), &CsvOptions {
///     targets: vec!["a".into()],
///     ..CsvOptions::default()
/// })
/// .unwrap_err();
/// assert_eq!(err.to_string(), "bad.csv:2:2: non-numeric value \"x\" in feature column \"b\"");
/// ```
pub fn parse_csv(bytes: &[u8], path: &Path, opts: &CsvOptions) -> Result<Table> {
    let err = |line: usize, column: usize, message: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let delimiter = delimiter_of(opts.delimiter)?;
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
    let mut line_counter = LineCounter {
        bytes,
        byte: 0,
        line: 1,
    };
    let mut read = |record: &mut ByteRecord| -> Result<Option<usize>> {
        match reader.read_byte_record(record) {
            Ok(false) => Ok(None),
            Ok(true) => Ok(Some(line_counter.line_of(record))),
            Err(e) => {
                let line = e.position().map_or(0, |p| to_usize(p.line()));
                Err(err(line, 0, format!("malformed CSV: {e}")))
            }
        }
    };

    // Header.
    let Some(header_line) = read(&mut record)? else {
        return Err(err(1, 0, "empty file: expected a header row".into()));
    };
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let name = std::str::from_utf8(field)
            .map_err(|_| err(header_line, i + 1, "column name is not valid UTF-8".into()))?
            .trim();
        if name.is_empty() {
            return Err(err(
                header_line,
                i + 1,
                format!("empty column name (column {})", i + 1),
            ));
        }
        names.push(name.to_string());
    }
    let ncols = names.len();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(ncols);
    for (i, name) in names.iter().enumerate() {
        if let Some(first) = index.insert(name, i) {
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
    let available = || format!("columns: {}", name_list(&names));

    // Targets.
    let target_cols: Vec<usize> = if opts.targets.is_empty() {
        vec![ncols - 1]
    } else {
        let mut cols = Vec::with_capacity(opts.targets.len());
        let mut missing = Vec::new();
        for name in &opts.targets {
            match index.get(name.as_str()) {
                Some(&c) if cols.contains(&c) => {
                    return Err(Error::InvalidArgument {
                        name: "targets".into(),
                        message: format!("target {} is listed twice", quote(name)),
                    })
                }
                Some(&c) => cols.push(c),
                None => missing.push(name.as_str()),
            }
        }
        // With `target_optional`, all named targets may be absent, not some.
        let all_absent_allowed = opts.target_optional && cols.is_empty();
        if !missing.is_empty() && !all_absent_allowed {
            let what = if missing.len() == 1 {
                "column"
            } else {
                "columns"
            };
            return Err(err(
                header_line,
                0,
                format!("no target {what} {} ({})", name_list(&missing), available()),
            ));
        }
        cols
    };

    // Features.
    let feature_cols: Vec<usize> = match &opts.features {
        None => (0..ncols).filter(|c| !target_cols.contains(c)).collect(),
        Some(list) => {
            let mut cols = Vec::with_capacity(list.len());
            for name in list {
                let Some(&c) = index.get(name.as_str()) else {
                    return Err(err(
                        header_line,
                        0,
                        format!("unknown feature column {} ({})", quote(name), available()),
                    ));
                };
                if target_cols.contains(&c) {
                    return Err(err(
                        header_line,
                        c + 1,
                        format!("column {} is both a target and a feature", quote(name)),
                    ));
                }
                if cols.contains(&c) {
                    return Err(Error::InvalidArgument {
                        name: "features".into(),
                        message: format!("feature {} is listed twice", quote(name)),
                    });
                }
                cols.push(c);
            }
            cols
        }
    };
    if feature_cols.is_empty() {
        return Err(err(
            header_line,
            0,
            format!("no feature columns ({})", available()),
        ));
    }

    // Data rows.
    let estimate = bytes.len() / (2 * ncols + 1) + 1;
    let mut features: Vec<f64> = Vec::with_capacity(feature_cols.len() * estimate.min(1 << 16));
    let mut targets: Vec<RawTarget> = target_cols
        .iter()
        .map(|&c| RawTarget {
            name: names[c].clone(),
            column: c + 1,
            text: Some(TextCells::default()),
            values: Vec::new(),
        })
        .collect();
    let mut lines: Vec<usize> = Vec::new();
    while let Some(line) = read(&mut record)? {
        if ncols > 1 && record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
            continue; // a blank line of spaces
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
        for &c in &feature_cols {
            let cell = cell_text(&record[c], line, c, &names, "feature", &err)?;
            let value: f64 = cell.parse().map_err(|_| {
                err(
                    line,
                    c + 1,
                    format!(
                        "non-numeric value {} in feature column {}",
                        quote(cell),
                        quote(&names[c])
                    ),
                )
            })?;
            if !value.is_finite() && !opts.allow_non_finite {
                return Err(err(
                    line,
                    c + 1,
                    format!(
                        "non-finite value {} in feature column {}",
                        quote(cell),
                        quote(&names[c])
                    ),
                ));
            }
            features.push(value);
        }
        for (t, &c) in targets.iter_mut().zip(&target_cols) {
            let cell = cell_text(&record[c], line, c, &names, "target", &err)?;
            if let Some(text) = &mut t.text {
                text.push(cell);
            }
            t.values.push(cell.parse().ok());
        }
        lines.push(line);
    }
    let rows = lines.len();
    if rows == 0 {
        return Err(err(header_line, 0, "no data rows after the header".into()));
    }

    let feature_names = feature_cols.iter().map(|&c| names[c].clone()).collect();
    let (target, target_names, task, task_inferred) = if targets.is_empty() {
        (None, Vec::new(), opts.task, false)
    } else {
        let at = Location {
            path,
            lines: Some(&lines),
            header_line,
        };
        let (target, task, inferred) = build_target(&targets, rows, opts, &at)?;
        let target_names = targets.into_iter().map(|t| t.name).collect();
        (Some(target), target_names, Some(task), inferred)
    };
    Ok(Table {
        feature_names,
        target_names,
        features,
        rows,
        target,
        task,
        task_inferred,
    })
}

/// A cell as trimmed UTF-8 text, not empty.
fn cell_text<'a>(
    field: &'a [u8],
    line: usize,
    c: usize,
    names: &[String],
    kind: &str,
    err: &dyn Fn(usize, usize, String) -> Error,
) -> Result<&'a str> {
    let cell = std::str::from_utf8(field)
        .map_err(|_| {
            err(
                line,
                c + 1,
                format!("invalid UTF-8 in {kind} column {}", quote(&names[c])),
            )
        })?
        .trim();
    if cell.is_empty() {
        return Err(err(
            line,
            c + 1,
            format!("missing value in {kind} column {}", quote(&names[c])),
        ));
    }
    Ok(cell)
}

/// Counts the lines before each record. The csv crate's own record line is
/// one short after a CRLF line end (the record's position is taken before the
/// `\n`), so lines are counted here from the records' byte offsets: linear
/// in the input overall.
pub(crate) struct LineCounter<'a> {
    pub(crate) bytes: &'a [u8],
    /// A byte offset at or before the next record's start…
    pub(crate) byte: usize,
    /// … and its line.
    pub(crate) line: usize,
}

impl LineCounter<'_> {
    /// The line where `record` starts (after any line ends before it).
    pub(crate) fn line_of(&mut self, record: &ByteRecord) -> usize {
        let Some(pos) = record.position() else {
            return 0;
        };
        let mut start = to_usize(pos.byte()).max(self.byte);
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let skipped = self.bytes.get(self.byte..start).unwrap_or_default();
        self.line += skipped.iter().filter(|&&b| b == b'\n').count();
        self.byte = start;
        self.line
    }
}

pub(crate) fn to_usize(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The line and column (field number) of a quoted field that is never
/// closed, if any: the csv crate would silently take the rest of the file
/// as that one field.
pub(crate) fn unclosed_quote(bytes: &[u8], delimiter: u8) -> Option<(usize, usize)> {
    let (mut line, mut field, mut at_field_start) = (1usize, 1usize, true);
    let mut open: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if open.is_some() {
            if b == b'"' {
                if bytes.get(i + 1) == Some(&b'"') {
                    i += 1; // an escaped quote inside the field
                } else {
                    open = None;
                }
            } else if b == b'\n' {
                line += 1;
            }
        } else if b == b'"' && at_field_start {
            open = Some((line, field));
        } else if b == delimiter {
            field += 1;
            at_field_start = true;
            i += 1;
            continue;
        } else if b == b'\n' {
            line += 1;
            field = 1;
            at_field_start = true;
            i += 1;
            continue;
        }
        at_field_start = false;
        i += 1;
    }
    open
}

/// The field delimiter asked for (`0`: the default `,`).
///
/// # Errors
///
/// [`Error::InvalidArgument`] for a quote or a line end.
pub(super) fn delimiter_of(requested: u8) -> Result<u8> {
    let delimiter = if requested == 0 { b',' } else { requested };
    if matches!(delimiter, b'"' | b'\n' | b'\r') {
        return Err(Error::InvalidArgument {
            name: "delimiter".into(),
            message: format!("{:?} cannot be a field delimiter", delimiter as char),
        });
    }
    Ok(delimiter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Task;

    #[test]
    fn unclosed_quotes_are_found_with_their_line_and_field() {
        assert_eq!(unclosed_quote(b"a,b\n1,\"2\n3,4\n", b','), Some((2, 2)));
        assert_eq!(unclosed_quote(b"a,\"b\"\"c\"\n1,2\n", b','), None);
        assert_eq!(unclosed_quote(b"a,\"multi\nline\"\n1,2\n", b','), None);
        assert_eq!(
            unclosed_quote(b"a,b\"c\n", b','),
            None,
            "a quote inside a field is data"
        );
    }

    fn parse(s: &str) -> Result<Table> {
        parse_csv(s.as_bytes(), Path::new("t.csv"), &CsvOptions::default())
    }

    fn loc(e: Error) -> (usize, usize, String) {
        match e {
            Error::Parse {
                line,
                column,
                message,
                ..
            } => (line, column, message),
            e => panic!("not a parse error: {e}"),
        }
    }

    #[test]
    fn reads_numbers_with_spaces_and_exponents() {
        let t = parse("a,b,y\n 1e-3 , -0.5,1.5\n2,3,2.5\n").unwrap();
        assert_eq!(t.features, [1e-3, -0.5, 2.0, 3.0]);
        assert_eq!(t.task, Some(Task::Regression));
    }

    #[test]
    fn record_lines_count_quoted_newlines() {
        let e = parse("a,y\n\"1\n\",x\n2,y\nz,x\n").unwrap_err();
        let (line, column, message) = loc(e);
        // The first record spans lines 2-3; the error is on line 5.
        assert_eq!((line, column), (5, 1), "{message}");
    }

    #[test]
    fn record_lines_with_crlf_and_blank_lines() {
        for (s, line) in [
            ("a,y\r\n1,x\r\nbad,y\r\n", 3),
            ("a,y\r\n\"1\r\n\",x\r\nbad,y\r\n", 4),
            ("a,y\n1,x\n\n\r\n\nbad,y\n", 6),
            // A lone CR ends a record but, as for the csv crate, not a line.
            ("\n\na,y\r\r\n1,x\rbad,y", 4),
        ] {
            let (l, c, m) = loc(parse(s).unwrap_err());
            assert_eq!((l, c), (line, 1), "{s:?}: {m}");
        }
    }

    #[test]
    fn skips_blank_lines() {
        let t = parse("a,y\n1,x\n\n   \n2,y\n3,x\n").unwrap();
        assert_eq!(t.rows, 3);
    }

    #[test]
    fn bad_delimiter() {
        let opts = CsvOptions {
            delimiter: b'"',
            ..Default::default()
        };
        assert!(matches!(
            parse_csv(b"a,b\n1,2\n", Path::new("t"), &opts),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
