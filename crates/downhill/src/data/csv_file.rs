//! A CSV file from disk into a [`Frame`]. A large file without quotes is
//! cut at line ends found where it lies and each part is read from the file
//! by the worker that parses it, into a buffer the worker reuses for its
//! next part: the file is never held whole, so its bytes are not copied
//! into fresh memory (on a VM each first touch of a page costs about as
//! much as parsing it). Any other file is read whole and parsed by
//! [`parse_csv_frame`](super::parse_csv_frame); both give the same frame.

use std::path::Path;

use super::csv::delimiter_of;
use super::csv_part::NaTokens;
use super::frame::{Frame, FrameOptions};
use super::frame_csv::{finish, newlines, read_header, read_parts, Body, PartsError};
use crate::{Error, Result};

/// Bytes per piece of a large file read whole on its own thread.
const READ_PIECE: usize = 16 << 20;
/// Files below this size are read whole.
const PART_READ_BYTES: usize = 2 * READ_PIECE;
/// Bytes read at the start for the header, and around each cut.
const HEAD_BYTES: usize = 64 << 10;
/// Bytes per part at least. A part's buffer is above 32 MB, glibc's largest
/// dynamic mmap threshold, on purpose: freeing a smaller mapped block would
/// raise the threshold to its size, and every later block below it would
/// then come from arenas that keep their memory (measured: about 100 MB more
/// peak memory for a 1M-row load with 13 MB parts).
const PART_BYTES: usize = 40 << 20;

/// Reads the CSV file at `path` (see [`parse_csv_frame`](super::parse_csv_frame)).
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Parse`] as
/// `parse_csv_frame` gives it.
pub(super) fn read_csv_file(path: &Path, opts: &FrameOptions) -> Result<Frame> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    #[cfg(unix)]
    {
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        let threads = rayon::current_num_threads();
        if meta.is_file() && len >= PART_READ_BYTES && threads > 1 {
            // Parts per thread: a thread's parts are read in order, reusing
            // one buffer.
            let parts = threads * (len / (threads * PART_BYTES)).max(1);
            if let Some(frame) = read_in_parts(&file, len, path, opts, parts)? {
                return Ok(frame);
            }
        }
    }
    let bytes = read_bytes(path).map_err(io)?;
    super::parse_csv_frame(&bytes, path, opts)
}

/// The file read in at most `parts` parts, each straight from the file;
/// `None` if it has to be read whole: a quote anywhere, a header that does
/// not end near the start, a cut with no line end near it.
#[cfg(unix)]
fn read_in_parts(
    file: &std::fs::File,
    len: usize,
    path: &Path,
    opts: &FrameOptions,
    parts: usize,
) -> Result<Option<Frame>> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let delimiter = delimiter_of(opts.delimiter)?;
    let head = read_at(file, 0, HEAD_BYTES.min(len)).map_err(io)?;
    let bom = if head.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let head = &head[bom..];
    if memchr::memchr(b'"', head).is_some()
        || memchr::memchr(b'\n', head).is_none()
        || head.iter().all(u8::is_ascii_whitespace)
    {
        return Ok(None);
    }
    let header = read_header(head, delimiter, path)?;
    if header.body_start >= head.len() {
        return Ok(None);
    }
    let offset = bom + header.body_start;
    let body_len = len - offset;
    let Some(ranges) = cuts(file, offset, body_len, parts).map_err(io)? else {
        return Ok(None);
    };
    let first_line = 1 + newlines(&head[..header.body_start]);
    let na = NaTokens::new(opts.na_values());
    let body = Body::File {
        file,
        offset: offset as u64,
    };
    let (builders, lines) = match read_parts(&body, &ranges, first_line, delimiter, &header, &na) {
        Ok(read) => read,
        Err(PartsError::Quoted) => return Ok(None),
        Err(PartsError::Io(e)) => return Err(io(e)),
        Err(PartsError::Part(e)) => {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: e.line,
                column: e.column,
                message: e.message,
            })
        }
    };
    finish(path, header, builders, lines).map(Some)
}

/// The body (`body_len` bytes from `offset`) cut into at most `parts`
/// ranges, each cut just after the first line end at or after an even
/// share; `None` if a cut finds no line end within [`HEAD_BYTES`]. (Valid
/// record boundaries only in a file without quotes, which the parts check.)
#[cfg(unix)]
fn cuts(
    file: &std::fs::File,
    offset: usize,
    body_len: usize,
    parts: usize,
) -> std::io::Result<Option<Vec<std::ops::Range<usize>>>> {
    let parts = parts.clamp(1, body_len.max(1));
    let mut starts = vec![0];
    for k in 1..parts {
        let target = k * body_len / parts;
        let window = read_at(file, offset + target, HEAD_BYTES.min(body_len - target))?;
        match memchr::memchr(b'\n', &window) {
            Some(i) => starts.push(target + i + 1),
            None => return Ok(None),
        }
    }
    starts.push(body_len);
    starts.dedup();
    if starts.windows(2).any(|w| w[0] > w[1]) {
        return Ok(None);
    }
    Ok(Some(starts.windows(2).map(|w| w[0]..w[1]).collect()))
}

/// `len` bytes of `file` from `at`.
#[cfg(unix)]
fn read_at(file: &std::fs::File, at: usize, len: usize) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, at as u64)?;
    Ok(bytes)
}

/// The whole file, as `std::fs::read` gives it; a large regular file is read
/// in pieces on every core (positioned reads into disjoint parts of one
/// buffer), which halves the time of copying it from the page cache on two.
fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use rayon::prelude::*;
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open(path)?;
        let meta = file.metadata()?;
        let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        if meta.is_file() && len >= PART_READ_BYTES && rayon::current_num_threads() > 1 {
            let mut bytes = vec![0u8; len];
            bytes
                .par_chunks_mut(READ_PIECE)
                .enumerate()
                .try_for_each(|(k, piece)| file.read_exact_at(piece, (k * READ_PIECE) as u64))?;
            // A file that shrank meanwhile is an error (unexpected end of file).
            return Ok(bytes);
        }
    }
    std::fs::read(path)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::data::{parse_csv_frame, ColumnValues};

    /// A generated table: numbers, text, missing cells, a column that
    /// turns to text late, blank lines and CRLF line ends.
    fn table(rows: usize, crlf: bool) -> String {
        let end = if crlf { "\r\n" } else { "\n" };
        let mut s = format!("a,b,c,late{end}");
        for i in 0..rows {
            let a = if i % 7 == 0 {
                String::new()
            } else {
                format!("{}", i as f64 * 0.5 - 3.0)
            };
            let late = if i == rows - 3 {
                "x".to_string()
            } else {
                (i % 4).to_string()
            };
            s.push_str(&format!("{a},w{},NA,{late}{end}", i % 9));
            if i % 1000 == 999 {
                s.push_str(end);
            }
        }
        s
    }

    fn same(a: &Frame, b: &Frame) {
        assert_eq!(a.rows, b.rows);
        assert_eq!(a.names(), b.names());
        assert_eq!(a.lines, b.lines);
        assert_eq!(a.header_line, b.header_line);
        for (x, y) in a.columns.iter().zip(&b.columns) {
            match (&x.values, &y.values) {
                (ColumnValues::Numbers(u), ColumnValues::Numbers(v)) => {
                    assert!(u.iter().zip(v).all(|(p, q)| p.to_bits() == q.to_bits()));
                }
                (ColumnValues::Text(u), ColumnValues::Text(v)) => assert_eq!(u, v),
                _ => panic!("column {}: kinds differ", x.name),
            }
        }
    }

    fn scratch(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("downhill-csv-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn parts_read_from_the_file_give_the_frame_of_the_bytes() {
        let opts = FrameOptions::default();
        for (rows, crlf, parts) in [(20_000, false, 7), (20_000, true, 3), (5, false, 4)] {
            let text = format!("\u{feff}{}", table(rows, crlf));
            let path = scratch(&format!("t{rows}{crlf}.csv"), &text);
            let file = std::fs::File::open(&path).unwrap();
            let read = read_in_parts(&file, text.len(), &path, &opts, parts)
                .unwrap()
                .expect("a file without quotes is read in parts");
            let whole = parse_csv_frame(text.as_bytes(), &path, &opts).unwrap();
            same(&read, &whole);
            assert!(matches!(read.columns[3].values, ColumnValues::Text(_)));
        }
    }

    #[test]
    fn a_quote_anywhere_or_a_long_header_reads_the_file_whole() {
        let opts = FrameOptions::default();
        let mut text = table(20_000, false);
        text.push_str("1,\"w,1\",NA,2\n");
        let path = scratch("quoted.csv", &text);
        let file = std::fs::File::open(&path).unwrap();
        assert!(read_in_parts(&file, text.len(), &path, &opts, 4)
            .unwrap()
            .is_none());
        let long = format!("{}\n1\n", "h".repeat(HEAD_BYTES + 10));
        let path = scratch("long.csv", &long);
        let file = std::fs::File::open(&path).unwrap();
        assert!(read_in_parts(&file, long.len(), &path, &opts, 4)
            .unwrap()
            .is_none());
    }

    #[test]
    fn errors_in_a_part_name_the_line_of_the_file() {
        let opts = FrameOptions::default();
        let mut text = table(20_000, false);
        let at = text.len() * 3 / 4;
        let line_end = at + text[at..].find('\n').unwrap();
        text.insert_str(line_end, ",extra");
        let path = scratch("ragged.csv", &text);
        let file = std::fs::File::open(&path).unwrap();
        let parts = read_in_parts(&file, text.len(), &path, &opts, 5)
            .unwrap_err()
            .to_string();
        let whole = parse_csv_frame(text.as_bytes(), &path, &opts)
            .unwrap_err()
            .to_string();
        assert_eq!(parts, whole);
    }
}
