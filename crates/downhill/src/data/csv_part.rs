//! Reading one part of a CSV file (whole records, no header) into column
//! builders. A part without quotes, lone `\r`s or invalid UTF-8 — most
//! files — is split on its delimiters and line ends directly; any other part
//! is read by the csv crate. Both give the same builders, lines and errors.

use csv::ByteRecord;

use super::column_builder::{short_words, Builder};
use super::csv::{to_usize, LineCounter};
use super::target::quote;

/// The csv crate's reader for records without a header.
pub(super) fn csv_reader(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes)
}

/// A parse error inside one part: its line is counted from the part's start.
pub(super) struct PartError {
    /// Line ends before the error, within the part.
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) message: String,
    /// The column of an infinite number (not an error if that column is
    /// text by then).
    pub(super) infinite: Option<usize>,
}

/// The records of one part.
pub(super) struct Part {
    pub(super) builders: Vec<Builder>,
    /// Line ends before each row, within the part.
    pub(super) lines: Vec<usize>,
}

/// What a part is read with.
pub(super) struct PartReader<'a> {
    pub(super) delimiter: u8,
    pub(super) names: &'a [String],
    pub(super) na: &'a NaTokens,
}

impl PartReader<'_> {
    /// Reads the records of `bytes` (whole records, no header; `rows` is a
    /// guess of their number, for capacity); the columns marked in `text`
    /// start as text.
    pub(super) fn read(
        &self,
        bytes: &[u8],
        text: &[bool],
        rows: usize,
    ) -> std::result::Result<Part, PartError> {
        match self.plain(bytes) {
            Some(s) => self.read_plain(s, text, rows),
            None => self.read_csv(bytes, text, rows),
        }
    }

    /// `bytes` as text if it can be split directly: an ASCII delimiter, no
    /// quote, every `\r` part of a `\r\n`, valid UTF-8.
    fn plain<'b>(&self, bytes: &'b [u8]) -> Option<&'b str> {
        if !self.delimiter.is_ascii() || memchr::memchr(b'"', bytes).is_some() {
            return None;
        }
        if memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n')) {
            return None;
        }
        std::str::from_utf8(bytes).ok()
    }

    fn builders(&self, text: &[bool], rows: usize) -> Vec<Builder> {
        text.iter()
            .map(|&t| {
                if t {
                    Builder::text_with_capacity(rows)
                } else {
                    Builder::numbers_with_capacity(rows)
                }
            })
            .collect()
    }

    /// Splits `s` on line ends and delimiters, as the csv crate reads a
    /// file without quotes: `\r\n` ends a line as `\n` does, empty lines
    /// are skipped. A row is read cell by cell on the short path
    /// ([`PartReader::short_row`]); a row it declines is taken back and read
    /// whole.
    fn read_plain(
        &self,
        s: &str,
        text: &[bool],
        rows: usize,
    ) -> std::result::Result<Part, PartError> {
        let bytes = s.as_bytes();
        let mut builders = self.builders(text, rows);
        let mut lines = Vec::with_capacity(rows);
        let mut delimiters: Vec<usize> = Vec::with_capacity(self.names.len());
        let mut pos = 0;
        let mut line = 0;
        while pos < bytes.len() {
            if let Some(next) = self.short_row(s, pos, &mut builders) {
                lines.push(line);
                line += 1;
                pos = next;
                continue;
            }
            let line_end = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
            let end = if line_end > pos && bytes[line_end - 1] == b'\r' {
                line_end - 1
            } else {
                line_end
            };
            delimiters.clear();
            delimiters
                .extend(memchr::memchr_iter(self.delimiter, &bytes[pos..end]).map(|i| pos + i));
            if self.plain_record(s, pos, &delimiters, end, line, &mut builders)? {
                lines.push(line);
            }
            line += 1;
            pos = line_end + 1;
        }
        Ok(Part { builders, lines })
    }

    /// Reads the row that starts at `s[pos]` if every cell is plain: a
    /// number the short path parses or a missing token in a numeric column,
    /// any text in a text column, then the right number of fields. Returns
    /// where the next line starts; `None` (with nothing pushed) for
    /// anything else — a blank line, spaces around a number, a text cell in
    /// a numeric column, the wrong number of fields — which
    /// [`PartReader::plain_record`] reads.
    fn short_row(&self, s: &str, mut pos: usize, builders: &mut [Builder]) -> Option<usize> {
        if matches!(s.as_bytes().get(pos), Some(b'\n' | b'\r')) {
            return None;
        }
        let n = builders.len();
        for c in 0..n {
            match self.short_cell(s, pos, c + 1 == n, &mut builders[c]) {
                Some(next) => pos = next,
                None => {
                    for b in &mut builders[..c] {
                        b.pop();
                    }
                    return None;
                }
            }
        }
        Some(pos)
    }

    /// One cell at `s[start]` on the short path: pushed, and where the next
    /// cell (or line) starts.
    fn short_cell(&self, s: &str, start: usize, last: bool, b: &mut Builder) -> Option<usize> {
        let bytes = s.as_bytes();
        match b {
            Builder::Numbers(v) => {
                // A number that is a missing token, or an empty cell that is
                // not one, is declined.
                let (x, end) = match bytes.get(start) {
                    Some(&c) if c != self.delimiter && c != b'\n' && c != b'\r' => {
                        let (x, end) = super::decimal::scan_decimal(bytes, start)?;
                        if self.na.numeric && self.na.contains(s.get(start..end)?) {
                            return None;
                        }
                        (x, end)
                    }
                    _ if self.na.empty => (f64::NAN, start),
                    _ => return None,
                };
                let next = self.field_end(bytes, end, last)?;
                v.push(x);
                Some(next)
            }
            Builder::Text { .. } => {
                let mut end = start;
                while let Some(&c) = bytes.get(end) {
                    if c == self.delimiter || c == b'\n' || c == b'\r' {
                        break;
                    }
                    end += 1;
                }
                let next = self.field_end(bytes, end, last)?;
                let cell = trim(s.get(start..end)?);
                if self.na.contains(cell) {
                    b.push_missing();
                } else {
                    // A text column takes any cell.
                    b.push(cell).ok()?;
                }
                Some(next)
            }
        }
    }

    /// Where the next field starts if a field ending at `bytes[end]` ends
    /// there properly: at a delimiter, or for the `last` field of a row at
    /// the line's end.
    fn field_end(&self, bytes: &[u8], end: usize, last: bool) -> Option<usize> {
        match bytes.get(end) {
            Some(&c) if !last && c == self.delimiter => Some(end + 1),
            None if last => Some(end),
            Some(b'\n') if last => Some(end + 1),
            // In a plain part every `\r` comes before a `\n`.
            Some(b'\r') if last => Some(end + 2),
            _ => None,
        }
    }

    /// One line `s[start..end]` whose delimiters are at `delimiters`: its
    /// cells pushed, `Ok(false)` if it is blank and skipped.
    fn plain_record(
        &self,
        s: &str,
        start: usize,
        delimiters: &[usize],
        end: usize,
        line: usize,
        builders: &mut [Builder],
    ) -> std::result::Result<bool, PartError> {
        let ncols = self.names.len();
        let fields = delimiters.len() + 1;
        if fields == 1 {
            let record = &s.as_bytes()[start..end];
            if record.is_empty() || (ncols > 1 && record.iter().all(u8::is_ascii_whitespace)) {
                return Ok(false);
            }
        }
        if fields != ncols {
            return Err(self.field_count_error(line, fields));
        }
        let mut from = start;
        for (c, b) in builders.iter_mut().enumerate() {
            let to = delimiters.get(c).copied().unwrap_or(end);
            // Delimiter and line end are ASCII: `from..to` are char boundaries.
            let field = s.get(from..to).unwrap_or_default();
            self.push(b, field, line, c)?;
            from = to + 1;
        }
        Ok(true)
    }

    /// Reads `bytes` with the csv crate (quotes, lone `\r`, invalid UTF-8).
    fn read_csv(
        &self,
        bytes: &[u8],
        text: &[bool],
        rows: usize,
    ) -> std::result::Result<Part, PartError> {
        let ncols = self.names.len();
        let mut reader = csv_reader(bytes, self.delimiter);
        let mut record = ByteRecord::new();
        let mut counter = LineCounter {
            bytes,
            byte: 0,
            line: 0,
        };
        let mut builders = self.builders(text, rows);
        let mut lines: Vec<usize> = Vec::with_capacity(rows);
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e
                        .position()
                        .map_or(0, |p| to_usize(p.line()).saturating_sub(1));
                    return Err(fail(line, 0, format!("malformed CSV: {e}")));
                }
            }
            let line = counter.line_of(&record);
            if ncols > 1 && record.len() == 1 && record[0].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if record.len() != ncols {
                return Err(self.field_count_error(line, record.len()));
            }
            // The record's text is checked once and a field is a slice of it
            // (`None` if a character straddles a field boundary); an invalid
            // record is checked field by field to name the column.
            let all = std::str::from_utf8(record.as_slice()).ok();
            for (c, b) in builders.iter_mut().enumerate() {
                let field = match all {
                    Some(all) => record.range(c).and_then(|r| all.get(r)),
                    None => std::str::from_utf8(&record[c]).ok(),
                };
                let field = field.ok_or_else(|| {
                    fail(
                        line,
                        c + 1,
                        format!("invalid UTF-8 in column {}", quote(&self.names[c])),
                    )
                })?;
                self.push(b, field, line, c)?;
            }
            lines.push(line);
        }
        Ok(Part { builders, lines })
    }

    fn field_count_error(&self, line: usize, fields: usize) -> PartError {
        let ncols = self.names.len();
        fail(
            line,
            fields.min(ncols) + 1,
            format!("expected {ncols} fields (as in the header), found {fields}"),
        )
    }

    /// Pushes the cell `field` of column `c` (missing if its trimmed text
    /// is a missing token).
    fn push(
        &self,
        b: &mut Builder,
        field: &str,
        line: usize,
        c: usize,
    ) -> std::result::Result<(), PartError> {
        let cell = trim(field);
        if self.na.contains(cell) {
            b.push_missing();
        } else if b.push(cell).is_err() {
            return Err(PartError {
                infinite: Some(c),
                ..fail(
                    line,
                    c + 1,
                    format!(
                        "non-finite value {} in column {} (an infinite number; NaN or an empty cell is read as missing)",
                        quote(cell),
                        quote(&self.names[c])
                    ),
                )
            });
        }
        Ok(())
    }
}

fn fail(line: usize, column: usize, message: String) -> PartError {
    PartError {
        line,
        column,
        message,
        infinite: None,
    }
}

/// `s` without leading and trailing white space (`str::trim`), checking the
/// two ends first.
fn trim(s: &str) -> &str {
    let plain = |b: u8| b > b' ' && b < 0x80;
    match s.as_bytes() {
        [] => s,
        [first, .., last] if plain(*first) && plain(*last) => s,
        [only] if plain(*only) => s,
        _ => s.trim(),
    }
}

/// A missing token: as two words (see [`short_words`]) if it has at most 16
/// bytes, and as text.
type Token = (Option<(u64, u64)>, String);

/// The missing-value tokens, looked up by length first.
pub(super) struct NaTokens {
    /// Per length, the tokens of that length.
    by_len: Vec<Vec<Token>>,
    /// Whether a token is a plain decimal (the short path reads it as a number).
    numeric: bool,
    /// Whether the empty cell is a token.
    empty: bool,
}

impl NaTokens {
    pub(super) fn new(tokens: Vec<String>) -> Self {
        let numeric = tokens.iter().any(|t| {
            super::decimal::scan_decimal(t.as_bytes(), 0).is_some_and(|(_, end)| end == t.len())
        });
        let empty = tokens.iter().any(String::is_empty);
        let mut by_len: Vec<Vec<Token>> = Vec::new();
        for t in tokens {
            if by_len.len() <= t.len() {
                by_len.resize(t.len() + 1, Vec::new());
            }
            by_len[t.len()].push((short_words(t.as_bytes()), t));
        }
        NaTokens {
            by_len,
            numeric,
            empty,
        }
    }

    /// Whether `cell` is one of the tokens: a short cell is compared as
    /// two words (no call per token).
    fn contains(&self, cell: &str) -> bool {
        let Some(tokens) = self.by_len.get(cell.len()) else {
            return false;
        };
        match short_words(cell.as_bytes()) {
            Some(w) => tokens.iter().any(|(t, _)| *t == Some(w)),
            None => tokens.iter().any(|(_, t)| t == cell),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::frame::DEFAULT_NA_VALUES;

    /// Both readers on `csv` (records without a header), compared as
    /// printed: builders' cells, lines, or the error.
    fn both(csv: &str, ncols: usize) -> (String, String) {
        both_with(csv, ncols, &DEFAULT_NA_VALUES)
    }

    /// [`both`] with the missing tokens `tokens`.
    fn both_with(csv: &str, ncols: usize, tokens: &[&str]) -> (String, String) {
        let names: Vec<String> = (0..ncols).map(|i| format!("c{i}")).collect();
        let na = NaTokens::new(tokens.iter().map(|s| s.to_string()).collect());
        let reader = PartReader {
            delimiter: b',',
            names: &names,
            na: &na,
        };
        let text = vec![false; ncols];
        let show = |r: std::result::Result<Part, PartError>| match r {
            Ok(p) => format!(
                "{:?} {:?}",
                p.builders
                    .into_iter()
                    .map(|b| format!("{:?}", b.finish()))
                    .collect::<Vec<_>>(),
                p.lines
            ),
            Err(e) => format!("{}:{} {} {:?}", e.line, e.column, e.message, e.infinite),
        };
        let plain = reader.plain(csv.as_bytes()).expect("a plain part");
        (
            show(reader.read_plain(plain, &text, 0)),
            show(reader.read_csv(csv.as_bytes(), &text, 0)),
        )
    }

    fn same(csv: &str, ncols: usize) {
        let (plain, crate_) = both(csv, ncols);
        assert_eq!(plain, crate_, "{csv:?}");
    }

    #[test]
    fn plain_parts_read_as_the_csv_crate_reads_them() {
        same("1,2\n3,4\n", 2);
        same("1,2\n3,4", 2);
        same("1,2\r\n\r\n3,x\r\n\n\n5, 6 \n", 2);
        same("1\n\n \n2\n", 1);
        same("1,2\n  \n3,4\n", 2);
        same(",\nNA,?\n", 2);
        same("1,2,3\n", 2);
        same("1\n", 2);
        same("1,inf\n2,3,4\n", 2);
        same("1,2\n3,4,5\n6,inf\n", 2);
        same("x,-inf\n", 2);
        same("é,ü\n1,2\n", 2);
        same("\n\n", 2);
        same("", 2);
    }

    #[test]
    fn generated_plain_parts_read_as_the_csv_crate_reads_them() {
        let mut g = crate::Generator::new(0x2545_f491_4f6c_dd1d);
        let mut next = |n: u64| g.below(n);
        let cells = [
            "1", "-2.5", "", " ", "NA", "x", "1e3", "inf", " 7 ", "nan", "é",
        ];
        for _ in 0..2000 {
            let ncols = 1 + next(4) as usize;
            let mut csv = String::new();
            for _ in 0..next(8) {
                let fields = if next(12) == 0 {
                    next(6) as usize
                } else {
                    ncols
                };
                let row: Vec<&str> = (0..fields)
                    .map(|_| cells[next(cells.len() as u64) as usize])
                    .collect();
                csv.push_str(&row.join(","));
                csv.push_str(["\n", "\r\n"][next(2) as usize]);
            }
            if next(3) == 0 {
                // No line end after the last row (a lone `\r` is not plain).
                csv.pop();
                if csv.ends_with('\r') {
                    csv.pop();
                }
            }
            same(&csv, ncols);
        }
    }

    /// Missing tokens that are numbers (`-999`, `0`), and an empty cell that
    /// is not a token, read as the csv crate's path reads them.
    #[test]
    fn numeric_missing_tokens_and_a_present_empty_cell() {
        let csv = "-999,1.5\n0,0.0\n,2\n7,-999\n-9990,0\n";
        for tokens in [&["-999", "0"][..], &["-999", "0", ""], &["missing"], &[]] {
            let (plain, csv_crate) = both_with(csv, 2, tokens);
            assert_eq!(plain, csv_crate, "tokens {tokens:?}");
        }
        let (plain, _) = both_with("-999,1\n", 2, &["-999"]);
        assert!(plain.contains("NaN"), "{plain}");
    }

    #[test]
    fn quotes_lone_returns_and_invalid_text_are_not_plain() {
        let names = vec!["a".to_string()];
        let na = NaTokens::new(vec![]);
        let reader = PartReader {
            delimiter: b',',
            names: &names,
            na: &na,
        };
        assert!(reader.plain(b"1\n2\r\n").is_some());
        assert!(reader.plain(b"\"1\"\n").is_none());
        assert!(reader.plain(b"1\r2\n").is_none());
        assert!(reader.plain(b"1\n\xff\n").is_none());
        let wide = PartReader {
            delimiter: 0xa7,
            ..reader
        };
        assert!(wide.plain(b"1\n").is_none());
    }
}
