//! NPY and NPZ reading (NumPy's array files), and tables built from them.
//!
//! The NPY format: the magic `\x93NUMPY`, a version, a header length, a
//! header that is a Python dict literal (`descr`, `fortran_order`, `shape`),
//! then the raw values. An NPZ file is a zip archive of `.npy` members.

use std::io::Read;
use std::path::Path;

use super::csv_options::CsvOptions;
use super::npy_format::{convert, dtype, fortran_to_c, parse_header};
use super::target::{build_target, name_list, quote, Location, RawTarget};
use super::Table;
use crate::{Error, Result};

/// An array read from an `.npy` file (values converted to `f64`).
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The shape (empty for a 0-d array, which holds one value).
    pub shape: Vec<usize>,
    /// The values, in C (row-major) order.
    pub data: Vec<f64>,
    /// The dtype as the file describes it, e.g. `"<f4"`.
    pub dtype: String,
}

const MAGIC: &[u8] = b"\x93NUMPY";

fn parse_error(path: &Path, message: String) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message,
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads an `.npy` file: see [`parse_npy`].
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read, else as [`parse_npy`].
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    parse_npy(&read_file(path)?, path)
}

/// Parses the bytes of an `.npy` file (format versions 1.0, 2.0 and 3.0);
/// `path` is used only in error messages.
///
/// Dtypes: `f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1`, little- or big-endian;
/// Fortran-ordered arrays are transposed into C order.
///
/// # Errors
///
/// [`Error::Parse`] (line and column 0; the message gives the byte offset)
/// for a bad magic or version, a malformed header, an unsupported dtype, a
/// shape whose size overflows, or fewer data bytes than the shape needs.
pub fn parse_npy(bytes: &[u8], path: &Path) -> Result<NpyArray> {
    let perr = |message: String| parse_error(path, message);
    if !bytes.starts_with(MAGIC) {
        return Err(perr(
            "not an NPY file: missing the \\x93NUMPY magic at byte 0".into(),
        ));
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(perr("truncated NPY file: no version at byte 6".into())),
    };
    let (header_start, header_len) = match major {
        1 => match bytes.get(8..10) {
            Some(&[a, b]) => (10, usize::from(u16::from_le_bytes([a, b]))),
            _ => {
                return Err(perr(
                    "truncated NPY file: no header length at byte 8".into(),
                ))
            }
        },
        2 | 3 => match bytes.get(8..12) {
            Some(&[a, b, c, d]) => (12, to_usize(u32::from_le_bytes([a, b, c, d]))),
            _ => {
                return Err(perr(
                    "truncated NPY file: no header length at byte 8".into(),
                ))
            }
        },
        _ => {
            return Err(perr(format!(
                "unsupported NPY version {major}.{minor} at byte 6"
            )))
        }
    };
    let header_end = header_start + header_len;
    let Some(header) = bytes.get(header_start..header_end) else {
        return Err(perr(format!(
            "truncated NPY header: {header_len} bytes from byte {header_start}, but the file has {}",
            bytes.len()
        )));
    };
    let header = parse_header(header, header_start).map_err(perr)?;
    let (kind, size, big) = dtype(&header.descr).ok_or_else(|| {
        perr(format!(
            "unsupported dtype {} in the NPY header",
            quote(&header.descr)
        ))
    })?;
    let count = if header.shape.contains(&0) {
        0
    } else {
        header
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| perr(format!("shape {:?} is too large", header.shape)))?
    };
    let data = &bytes[header_end..];
    let needed = count.checked_mul(size).filter(|&n| n <= data.len()).ok_or_else(|| {
        perr(format!(
            "truncated NPY data: shape {:?} of {} needs {count} × {size} bytes from byte {header_end}, \
             but only {} bytes follow",
            header.shape,
            header.descr,
            data.len()
        ))
    })?;
    let mut values = convert(&data[..needed], kind, size, big);
    if header.fortran_order && header.shape.len() > 1 {
        values = fortran_to_c(&values, &header.shape);
    }
    Ok(NpyArray {
        shape: header.shape,
        data: values,
        dtype: header.descr,
    })
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// Writes `data` (C order, `shape`) as an `.npy` file of `<f8`, format
/// version 1.0 (2.0 if the header does not fit).
///
/// # Errors
///
/// [`Error::InvalidArgument`] if `data.len()` is not the product of
/// `shape`; [`Error::Io`] if the file cannot be written.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f64]) -> Result<()> {
    let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if count != Some(data.len()) {
        return Err(Error::InvalidArgument {
            name: "shape".into(),
            message: format!("shape {shape:?} does not hold {} values", data.len()),
        });
    }
    let dims = match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {dims}, }}");
    // Header: magic, version, length, dict padded with spaces and a newline
    // so that the data starts at a multiple of 64 bytes.
    let v1 = 10 + dict.len() + 64 <= usize::from(u16::MAX);
    let prefix = if v1 { 10 } else { 12 };
    let header_len = (prefix + dict.len() + 1).div_ceil(64) * 64 - prefix;
    let mut bytes = Vec::with_capacity(prefix + header_len + data.len() * 8);
    bytes.extend_from_slice(MAGIC);
    if v1 {
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header_len as u16).to_le_bytes());
    } else {
        let len = u32::try_from(header_len).map_err(|_| Error::InvalidArgument {
            name: "shape".into(),
            message: "too many dimensions".into(),
        })?;
        bytes.extend_from_slice(&[2, 0]);
        bytes.extend_from_slice(&len.to_le_bytes());
    }
    bytes.extend_from_slice(dict.as_bytes());
    bytes.resize(prefix + header_len - 1, b' ');
    bytes.push(b'\n');
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the arrays of an `.npz` file (stored or deflated), in archive
/// order, named without their `.npy` suffix.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Parse`] if it is not a
/// zip archive or a member is not a valid `.npy` file (the message names the
/// member).
pub fn read_npz(path: &Path) -> Result<Vec<(String, NpyArray)>> {
    parse_npz(&read_file(path)?, path)
}

fn parse_npz(bytes: &[u8], path: &Path) -> Result<Vec<(String, NpyArray)>> {
    let perr = |message: String| parse_error(path, message);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| perr(format!("not an NPZ (zip) archive: {e}")))?;
    let mut arrays = Vec::with_capacity(archive.len().min(1024));
    for i in 0..archive.len() {
        let mut member = archive
            .by_index(i)
            .map_err(|e| perr(format!("NPZ member {i}: {e}")))?;
        if member.is_dir() {
            continue;
        }
        let name = member.name().to_string();
        let mut data = Vec::new();
        member
            .read_to_end(&mut data)
            .map_err(|e| perr(format!("NPZ member {}: {e}", quote(&name))))?;
        let array = parse_npy(&data, path).map_err(|e| match e {
            Error::Parse { message, .. } => perr(format!("NPZ member {}: {message}", quote(&name))),
            e => e,
        })?;
        let name = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        arrays.push((name, array));
    }
    Ok(arrays)
}

/// A [`Table`] from an NPY or NPZ file.
///
/// An `.npy` file holds a 2-D array whose **last** column is the target:
/// features are named `x0..x{d-2}`, the target `y`. An `.npz` file holds the
/// arrays `x` (2-D, rows × d; features `x0..x{d-1}`) and `y` (1-D with one
/// value per row, named `y`, or 2-D rows × t, named `y0..y{t-1}` when
/// t > 1); `y` may be absent when [`CsvOptions::target_optional`] is set.
/// A file is taken as NPZ when its extension is `.npz` or it starts like a
/// zip archive.
///
/// The task, its inference, `class_labels` and `allow_non_finite` work
/// exactly as for CSV; class labels of integer-valued targets are their
/// decimal text ("0", "1", …). `features` selects by the names above;
/// `targets`, if given, must be the target names above.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::Parse`] naming the
/// file for a malformed file, a missing `x` or `y`, arrays of the wrong
/// rank, `x` and `y` with different row counts, non-finite values, or the
/// target errors of [`parse_csv`](super::parse_csv).
pub fn read_npy_table(path: &Path, opts: &CsvOptions) -> Result<Table> {
    let bytes = read_file(path)?;
    let perr = |message: String| parse_error(path, message);
    let npz_ext = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"));
    let (rows, width, features, target) = if npz_ext || bytes.starts_with(b"PK\x03\x04") {
        let arrays = parse_npz(&bytes, path)?;
        let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
        let get = |name: &str| arrays.iter().find(|(n, _)| n == name).map(|(_, a)| a);
        let x = get("x").ok_or_else(|| {
            perr(format!(
                "no array \"x\" in the NPZ file (arrays: {})",
                name_list(&names)
            ))
        })?;
        let &[rows, width] = x.shape.as_slice() else {
            return Err(perr(format!(
                "array \"x\" must be 2-D (rows × features), found shape {:?}",
                x.shape
            )));
        };
        let target = match get("y") {
            None if opts.target_optional => None,
            None => {
                return Err(perr(format!(
                    "no array \"y\" (the target) in the NPZ file (arrays: {})",
                    name_list(&names)
                )))
            }
            Some(y) => {
                let t = match y.shape.as_slice() {
                    &[r] if r == rows => 1,
                    &[r, t] if r == rows => t,
                    &[r] | &[r, _] => {
                        return Err(perr(format!(
                            "array \"x\" has {rows} rows but \"y\" has {r}"
                        )))
                    }
                    s => {
                        return Err(perr(format!(
                            "array \"y\" must be 1-D or 2-D, found shape {s:?}"
                        )))
                    }
                };
                if t == 0 {
                    return Err(perr("array \"y\" has no columns".into()));
                }
                let names = if t == 1 {
                    vec!["y".to_string()]
                } else {
                    (0..t).map(|i| format!("y{i}")).collect()
                };
                Some((names, y.data.clone(), t))
            }
        };
        (rows, width, x.data.clone(), target)
    } else {
        let a = parse_npy(&bytes, path)?;
        let &[rows, cols] = a.shape.as_slice() else {
            return Err(perr(format!(
                "a table .npy must be 2-D (rows × features and the target), found shape {:?}",
                a.shape
            )));
        };
        if cols < 2 {
            return Err(perr(format!(
                "a table .npy needs at least 2 columns (features, then the target), found {cols}"
            )));
        }
        let mut features = Vec::with_capacity(rows * (cols - 1));
        let mut y = Vec::with_capacity(rows);
        for row in a.data.chunks_exact(cols) {
            features.extend_from_slice(&row[..cols - 1]);
            y.push(row[cols - 1]);
        }
        (
            rows,
            cols - 1,
            features,
            Some((vec!["y".to_string()], y, 1)),
        )
    };
    table_from_arrays(path, rows, width, features, target, opts)
}

/// Selects features, checks values and builds the target, for
/// [`read_npy_table`].
fn table_from_arrays(
    path: &Path,
    rows: usize,
    width: usize,
    all_features: Vec<f64>,
    target: Option<(Vec<String>, Vec<f64>, usize)>,
    opts: &CsvOptions,
) -> Result<Table> {
    let perr = |message: String| parse_error(path, message);
    if rows == 0 {
        return Err(perr("no rows".into()));
    }
    let all_names: Vec<String> = (0..width).map(|i| format!("x{i}")).collect();
    let target_names: Vec<String> = target.as_ref().map(|t| t.0.clone()).unwrap_or_default();
    if !opts.targets.is_empty()
        && opts.targets != target_names
        && !(target.is_none() && opts.target_optional)
    {
        return Err(Error::InvalidArgument {
            name: "targets".into(),
            message: format!(
                "{} has target(s) {}, not {}",
                path.display(),
                name_list(&target_names),
                name_list(&opts.targets)
            ),
        });
    }
    let cols: Vec<usize> = match &opts.features {
        None => (0..width).collect(),
        Some(list) => list
            .iter()
            .map(|name| {
                if target_names.contains(name) {
                    return Err(perr(format!(
                        "column {} is both a target and a feature",
                        quote(name)
                    )));
                }
                all_names.iter().position(|n| n == name).ok_or_else(|| {
                    perr(format!(
                        "unknown feature column {} (columns: {})",
                        quote(name),
                        name_list(&all_names)
                    ))
                })
            })
            .collect::<Result<_>>()?,
    };
    if cols.is_empty() {
        return Err(perr("no feature columns".into()));
    }
    let mut features = Vec::with_capacity(rows * cols.len());
    for (r, row) in all_features.chunks_exact(width).enumerate() {
        for &c in &cols {
            let v = row[c];
            if !v.is_finite() && !opts.allow_non_finite {
                return Err(perr(format!(
                    "non-finite value {v} in feature {} at row {r}",
                    all_names[c]
                )));
            }
            features.push(v);
        }
    }
    let feature_names = cols.iter().map(|&c| all_names[c].clone()).collect();
    let (target, task, task_inferred) = match target {
        None => (None, opts.task, false),
        Some((names, values, t)) => {
            let raw: Vec<RawTarget> = names
                .into_iter()
                .enumerate()
                .map(|(i, name)| RawTarget {
                    name,
                    column: 0,
                    text: None,
                    values: values.iter().skip(i).step_by(t).map(|&v| Some(v)).collect(),
                })
                .collect();
            let at = Location {
                path,
                lines: None,
                header_line: 0,
            };
            let (target, task, inferred) = build_target(&raw, rows, opts, &at)?;
            (Some(target), Some(task), inferred)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// NPY bytes with a hand-written header dict.
    fn npy(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[version, 0]);
        if version == 1 {
            b.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        } else {
            b.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(dict.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn zero_d_and_empty() {
        let a = parse_npy(
            &npy(
                1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': ()}",
                &2.5f64.to_le_bytes(),
            ),
            Path::new("a"),
        )
        .unwrap();
        assert_eq!((a.shape.clone(), a.data), (vec![], vec![2.5]));
        let a = parse_npy(
            &npy(
                1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 99999999999999999)}",
                &[],
            ),
            Path::new("a"),
        )
        .unwrap();
        assert!(a.data.is_empty());
    }

    #[test]
    fn shape_overflow_and_truncation() {
        let e = parse_npy(
            &npy(
                1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
                &[],
            ),
            Path::new("a"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        let e = parse_npy(
            &npy(
                1,
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,)}",
                &[0; 8],
            ),
            Path::new("a"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        let e = parse_npy(
            &npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}",
                &[0; 11],
            ),
            Path::new("a"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("only 11 bytes"), "{e}");
    }
}
