//! `--data`: an embedded dataset's name, or a CSV, NPY, NPZ or Parquet file.

use std::path::Path;

use downhill::data::{parse_csv_frame, read_frame, Frame, FrameOptions};

use crate::datasets;
use crate::error::{CliError, Result};

/// Reads `data` (a name from [`datasets::NAMES`] or a path) into a frame.
///
/// **Errors** naming the file, line and column for bad contents; naming
/// `--data` when the file does not exist.
pub fn load_frame(data: &str, opts: &FrameOptions) -> Result<Frame> {
    if let Some((name, bytes)) = datasets::embedded(data) {
        return Ok(parse_csv_frame(bytes, Path::new(name), opts)?);
    }
    let path = Path::new(data);
    if !path.exists() {
        return Err(CliError::flag(
            "--data",
            format!(
                "{data}: no such file (and not one of the built-in datasets: {})",
                datasets::NAMES.join(", ")
            ),
        ));
    }
    if path.is_dir() {
        return Err(CliError::flag(
            "--data",
            format!("{data}: is a directory, not a data file"),
        ));
    }
    Ok(read_frame(path, opts)?)
}

/// The target columns for `data`: the ones given, else an embedded
/// dataset's default (penguins: `species`), else none (the last column).
pub fn targets(data: &str, given: &[String]) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    datasets::default_target(data)
        .map(|t| vec![t.to_string()])
        .unwrap_or_default()
}
