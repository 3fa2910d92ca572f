//! [`read_frame`]: a file of any supported format into a [`Frame`].

use std::path::Path;

use super::frame::{Column, ColumnValues, Frame, FrameOptions};
use crate::Result;

/// Reads a file into a [`Frame`]: `.npy`/`.npz` as numeric arrays (see
/// [`read_npy_table`](super::read_npy_table) for their layout and column
/// names; NaN cells are missing), `.parquet`/`.pq` (with the `parquet`
/// feature), anything else as CSV ([`parse_csv_frame`](super::parse_csv_frame)).
///
/// # Errors
///
/// [`Error::Io`](crate::Error::Io) if the file cannot be read;
/// [`Error::Parse`](crate::Error::Parse) naming the file (and line and
/// column for CSV) for malformed contents.
pub fn read_frame(path: &Path, opts: &FrameOptions) -> Result<Frame> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "npy" | "npz" => npy_frame(path),
        "parquet" | "pq" => super::parquet_frame(path, opts),
        _ => super::csv_file::read_csv_file(path, opts),
    }
}

/// An NPY/NPZ table as a frame: its features and target(s) as numeric columns.
fn npy_frame(path: &Path) -> Result<Frame> {
    use super::{CsvOptions, TargetColumn, Task};
    let opts = CsvOptions {
        task: Some(Task::Regression),
        target_optional: true,
        allow_non_finite: true,
        ..CsvOptions::default()
    };
    let t = super::read_npy_table(path, &opts)?;
    let d = t.num_features();
    let mut frame = Frame::from_matrix(path, &t.feature_names, &t.features, t.rows);
    if let Some(TargetColumn::Values { values, width }) = &t.target {
        for (k, name) in t.target_names.iter().enumerate() {
            frame.columns.push(Column {
                name: name.clone(),
                position: d + k + 1,
                values: ColumnValues::Numbers((0..t.rows).map(|r| values[r * width + k]).collect()),
            });
        }
    }
    for c in &frame.columns {
        if let ColumnValues::Numbers(v) = &c.values {
            if let Some(r) = v.iter().position(|x| x.is_infinite()) {
                return Err(frame.cell_error(
                    r,
                    c,
                    format!("non-finite value {} in column {:?}", v[r], c.name),
                ));
            }
        }
    }
    Ok(frame)
}
