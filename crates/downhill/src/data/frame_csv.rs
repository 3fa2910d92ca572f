//! CSV into a [`Frame`]: every column kept, numbers or text, missing cells
//! recognized. A large file is cut at record boundaries and its parts are
//! read in parallel, then joined; the frame is the same as one sequential
//! read gives, bit for bit.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use csv::ByteRecord;
use rayon::prelude::*;

use super::column_builder::{frame_from_builders, Builder};
use super::csv::{delimiter_of, to_usize, unclosed_quote, LineCounter};
use super::csv_part::{csv_reader, NaTokens, Part, PartError, PartReader};
use super::frame::{Frame, FrameOptions};
use super::target::quote;
use crate::{Error, Result};

/// Bytes per part below which a file is not cut further.
const MIN_PART_BYTES: usize = 1 << 20;

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
    let parts = (rayon::current_num_threads() * 2)
        .min(bytes.len() / MIN_PART_BYTES)
        .max(1);
    parse_in_parts(bytes, path, opts, parts)
}

/// [`parse_csv_frame`] cutting the records into at most `parts` parts.
fn parse_in_parts(bytes: &[u8], path: &Path, opts: &FrameOptions, parts: usize) -> Result<Frame> {
    let err = |line: usize, column: usize, message: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let delimiter = delimiter_of(opts.delimiter)?;
    let na = NaTokens::new(opts.na_values());
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(err(1, 0, "empty file: expected a header row".into()));
    }
    let quoted = memchr::memchr(b'"', bytes).is_some();
    if quoted {
        if let Some((line, column)) = unclosed_quote(bytes, delimiter) {
            return Err(err(
                line,
                column,
                "unclosed quote: this field's opening \" has no closing \"".into(),
            ));
        }
    }
    let header = read_header(bytes, delimiter, path)?;
    let body = &bytes[header.body_start..];
    let ranges = part_ranges(body, delimiter, quoted, parts);
    let first_line = 1 + newlines(&bytes[..header.body_start]);
    let (builders, lines) = read_parts(
        &Body::Bytes(body),
        &ranges,
        first_line,
        delimiter,
        &header,
        &na,
    )
    .map_err(|e| match e {
        PartsError::Part(e) => err(e.line, e.column, e.message),
        PartsError::Io(_) | PartsError::Quoted => unreachable!("memory parts are not read"),
    })?;
    finish(path, header, builders, lines)
}

/// The frame of the joined parts.
///
/// # Errors
///
/// [`Error::Parse`] if there is no data row.
pub(super) fn finish(
    path: &Path,
    header: Header,
    builders: Vec<Builder>,
    lines: Vec<usize>,
) -> Result<Frame> {
    if lines.is_empty() {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: header.line,
            column: 0,
            message: "no data rows after the header".into(),
        });
    }
    let rows = lines.len();
    Ok(frame_from_builders(
        path,
        header.names,
        builders,
        rows,
        Some(lines),
        header.line,
    ))
}

/// The header record: column names, its line, where the records start.
pub(super) struct Header {
    pub(super) names: Vec<String>,
    pub(super) line: usize,
    pub(super) body_start: usize,
}

pub(super) fn read_header(bytes: &[u8], delimiter: u8, path: &Path) -> Result<Header> {
    let err = |line: usize, column: usize, message: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    };
    let mut reader = csv_reader(bytes, delimiter);
    let mut record = ByteRecord::new();
    let mut counter = LineCounter {
        bytes,
        byte: 0,
        line: 1,
    };
    let line = match reader.read_byte_record(&mut record) {
        Ok(false) => return Err(err(1, 0, "empty file: expected a header row".into())),
        Ok(true) => counter.line_of(&record),
        Err(e) => {
            let line = e.position().map_or(0, |p| to_usize(p.line()));
            return Err(err(line, 0, format!("malformed CSV: {e}")));
        }
    };
    let body_start = to_usize(reader.position().byte()).min(bytes.len());
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let name = std::str::from_utf8(field)
            .map_err(|_| err(line, i + 1, "column name is not valid UTF-8".into()))?
            .trim();
        names.push(if name.is_empty() {
            format!("Unnamed: {i}")
        } else {
            name.to_string()
        });
    }
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if let Some(first) = seen.insert(name, i) {
            return Err(err(
                line,
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
    Ok(Header {
        names,
        line,
        body_start,
    })
}

pub(super) fn newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// Cuts `body` (which starts at a record boundary) into at most `parts`
/// ranges of whole records, each starting just after a line end that is
/// outside quotes.
fn part_ranges(body: &[u8], delimiter: u8, quoted: bool, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.clamp(1, body.len().max(1));
    let targets: Vec<usize> = (1..parts).map(|k| k * body.len() / parts).collect();
    let mut starts = vec![0];
    if quoted {
        starts.extend(record_starts_after(body, delimiter, &targets));
    } else {
        for &t in &targets {
            if let Some(i) = memchr::memchr(b'\n', &body[t..]) {
                starts.push(t + i + 1);
            }
        }
    }
    starts.push(body.len());
    starts.dedup();
    starts.windows(2).map(|w| w[0]..w[1]).collect()
}

/// For each of the ascending offsets `targets`, the first position at or
/// after it that follows a line end outside quotes (quotes open a field
/// only at its start, as [`unclosed_quote`] reads them).
fn record_starts_after(body: &[u8], delimiter: u8, targets: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(targets.len());
    let mut next = targets.iter().copied().peekable();
    let (mut in_quotes, mut at_field_start) = (false, true);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if in_quotes {
            if b == b'"' {
                if body.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    in_quotes = false;
                }
            }
        } else if b == b'"' && at_field_start {
            in_quotes = true;
        } else if b == delimiter || b == b'\n' {
            at_field_start = true;
            if b == b'\n' {
                while next.next_if(|&t| t <= i + 1).is_some() {
                    if out.last() != Some(&(i + 1)) {
                        out.push(i + 1);
                    }
                }
                if next.peek().is_none() {
                    break;
                }
            }
            i += 1;
            continue;
        }
        at_field_start = false;
        i += 1;
    }
    out
}

/// Where the parts' bytes are: the records after the header in memory, or
/// in a file, read a part at a time (at `offset` plus the part's range).
pub(super) enum Body<'a> {
    Bytes(&'a [u8]),
    #[cfg(unix)]
    File {
        file: &'a std::fs::File,
        offset: u64,
    },
}

/// Why the parts could not be read.
pub(super) enum PartsError {
    /// A record's error (its line counted from the file's start).
    Part(PartError),
    /// The file could not be read.
    Io(std::io::Error),
    /// A part read from a file holds a quote, so the cuts may be inside a
    /// quoted field: the file is to be read whole.
    Quoted,
}

impl Body<'_> {
    /// `f` of the bytes of `range` (`buffer` holds them for a file).
    fn with_part<R>(
        &self,
        range: Range<usize>,
        buffer: &mut Vec<u8>,
        f: impl FnOnce(&[u8]) -> std::result::Result<R, PartsError>,
    ) -> std::result::Result<R, PartsError> {
        match self {
            Body::Bytes(b) => f(&b[range]),
            #[cfg(unix)]
            Body::File { file, offset } => {
                use std::os::unix::fs::FileExt;
                buffer.clear();
                buffer.resize(range.len(), 0);
                file.read_exact_at(buffer.as_mut_slice(), offset + range.start as u64)
                    .map_err(PartsError::Io)?;
                if memchr::memchr(b'"', buffer).is_some() {
                    return Err(PartsError::Quoted);
                }
                f(buffer)
            }
        }
    }
}

/// Reads every part (in parallel), then joins them in order. A column that
/// an earlier part found to be text is read again as text from the start of
/// the parts after it that had read numbers in it, as one sequential read
/// would have; the first error in file order is the one reported.
pub(super) fn read_parts(
    body: &Body<'_>,
    ranges: &[Range<usize>],
    first_line: usize,
    delimiter: u8,
    header: &Header,
    na: &NaTokens,
) -> std::result::Result<(Vec<Builder>, Vec<usize>), PartsError> {
    let ncols = header.names.len();
    let reader = PartReader {
        delimiter,
        names: &header.names,
        na,
    };
    let as_numbers = vec![false; ncols];
    let body_len = ranges.last().map_or(0, |r| r.end);
    // Part k's records and line ends; the first part's columns become the
    // frame's, so it makes room for every row (estimated from its own
    // rows per byte where the other parts are not read yet).
    let read = |k: usize, text: &[bool], buffer: &mut Vec<u8>| {
        body.with_part(ranges[k].clone(), buffer, |bytes| {
            let newlines = newlines(bytes);
            let rows = if k == 0 {
                let per_byte = (newlines + 1) as f64 / bytes.len().max(1) as f64;
                (per_byte * body_len as f64 * 1.02) as usize + ranges.len()
            } else {
                newlines + 1
            };
            let part = reader.read(bytes, text, rows).map_err(PartsError::Part)?;
            Ok((part, newlines))
        })
    };
    // Parts go to the workers in runs of consecutive parts, each run
    // reusing one buffer for a file's parts.
    let per_worker = ranges.len().div_ceil(rayon::current_num_threads().max(1));
    let first: Vec<std::result::Result<(Part, usize), PartsError>> = (0..ranges.len())
        .into_par_iter()
        .with_min_len(per_worker.max(1))
        .map_init(Vec::new, |buffer, k| read(k, &as_numbers, buffer))
        .collect();
    if first.iter().any(|r| matches!(r, Err(PartsError::Quoted))) {
        return Err(PartsError::Quoted);
    }
    let mut text = vec![false; ncols];
    let mut builders: Vec<Builder> = (0..ncols).map(|_| Builder::Numbers(Vec::new())).collect();
    let mut lines = Vec::new();
    let mut base = first_line;
    let mut buffer = Vec::new();
    for (k, result) in first.into_iter().enumerate() {
        let reread = text.iter().any(|&t| t)
            && match &result {
                Ok((p, _)) => p
                    .builders
                    .iter()
                    .zip(&text)
                    .any(|(b, &t)| t && b.numbers_read() > 0),
                Err(PartsError::Part(e)) => e.infinite.is_some_and(|c| text[c]),
                Err(_) => false,
            };
        let result = if reread {
            read(k, &text, &mut buffer)
        } else {
            result
        };
        let (part, newlines) = result.map_err(|e| match e {
            PartsError::Part(e) => PartsError::Part(PartError {
                line: base + e.line,
                ..e
            }),
            other => other,
        })?;
        if k == 0 {
            lines.reserve(part.lines.capacity());
        }
        lines.extend(part.lines.iter().map(|l| base + l));
        // Columns join independently: in parallel.
        builders
            .par_iter_mut()
            .zip(part.builders)
            .zip(text.par_iter_mut())
            .for_each(|((all, b), t)| {
                all.append(b);
                *t = matches!(all, Builder::Text { .. });
            });
        base += newlines;
    }
    Ok((builders, lines))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{ColumnValues, MISSING};

    fn frame(s: &str) -> Result<Frame> {
        parse_csv_frame(s.as_bytes(), Path::new("t.csv"), &FrameOptions::default())
    }

    /// Every way of cutting `csv` into parts reads the same frame, or the
    /// same first error.
    fn same_in_every_cut(csv: impl AsRef<[u8]>) {
        let csv = csv.as_ref();
        let opts = FrameOptions::default();
        // Compared as printed: NaN (a missing number) is not equal to itself.
        let read = |parts| {
            format!(
                "{:?}",
                parse_in_parts(csv, Path::new("t.csv"), &opts, parts).map_err(|e| e.to_string())
            )
        };
        let whole = read(1);
        for parts in 2..=12 {
            assert_eq!(
                read(parts),
                whole,
                "{parts} parts of {:?}",
                String::from_utf8_lossy(csv)
            );
        }
    }

    #[test]
    fn parts_read_the_same_frame_as_one_sequential_read() {
        // A column turning to text mid-file (later numbers kept as written,
        // "inf" then text), quoted line ends, blank lines, CRLF.
        same_in_every_cut(
            "a,b,c\n1,x,0\n2.50,y,1\n\n3,\"q\nr\",2\nfoo,z,3\r\n1.0,w,4\nNA,v,5\ninf,\"\"\"u\",6\n3,t,7\n-0,s,8\n",
        );
        // Text from the first cell, missing cells first, numbers as categories.
        same_in_every_cut("a,b\n,\nNA,x\n1,y\n2,NA\nz,1\n3,2\n1,z\n");
        // A column numeric throughout, and one turning to text in its last row.
        same_in_every_cut("a,b\n1,2\n3,4\n5,6\n7,8\n9,x\n");
    }

    #[test]
    fn parts_report_the_first_error_in_file_order() {
        same_in_every_cut("a,b\n1,2\n3,4\n5,inf\n7,8\n9\n");
        same_in_every_cut("a,b\n1,2\n3,4\n5,6\n7,8\n9\n1,-inf\n");
        same_in_every_cut("a,b\n1,x\n3,4\n5,inf\n7,8\n1,-inf\n");
        same_in_every_cut(b"a,b\n1,2\n3,\xff\n5,6\n");
    }

    #[test]
    fn invalid_utf8_is_reported_at_its_own_column() {
        let e = parse_csv_frame(
            b"a,b,c\n1,2,3\n4,5,\xff\n",
            Path::new("t.csv"),
            &FrameOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("t.csv:3:3: invalid UTF-8 in column \"c\""),
            "{e}"
        );
    }

    #[test]
    fn generated_tables_read_the_same_in_parts() {
        // A small deterministic generator: numbers, text, missing tokens,
        // quoted cells with delimiters and line ends, a column that turns
        // to text late.
        let mut g = crate::Generator::new(0x2545_f491_4f6c_dd1d);
        let mut next = |n: u64| g.below(n);
        for _ in 0..20 {
            let mut csv = String::from("n,t,m,late\n");
            let rows = 5 + next(40);
            for r in 0..rows {
                let n = match next(6) {
                    0 => "NA".to_string(),
                    1 => String::new(),
                    _ => format!("{}.{}", next(100), next(10)),
                };
                let t = match next(5) {
                    0 => "\"a,b\nc\"".to_string(),
                    1 => "?".to_string(),
                    k => format!("cat{k}"),
                };
                let m = if next(4) == 0 {
                    format!("w{}", next(3))
                } else {
                    next(9).to_string()
                };
                let late = if r + 2 == rows {
                    "x".to_string()
                } else {
                    format!("{}", next(7))
                };
                csv.push_str(&format!("{n},{t},{m},{late}\n"));
                if next(10) == 0 {
                    csv.push('\n');
                }
            }
            same_in_every_cut(&csv);
        }
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
