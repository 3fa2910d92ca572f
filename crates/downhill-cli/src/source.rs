//! `--data`: an embedded dataset's name, or a CSV, NPY or NPZ file.

use std::path::Path;

use downhill::data::{parse_csv, read_csv, read_npy_table, CsvOptions, Table};

use crate::datasets;
use crate::error::{CliError, Result};

/// Reads `data` (a name from [`datasets::NAMES`] or a path) into a table.
///
/// **Errors** naming the file, line and column for bad contents; naming
/// `--data` when the file does not exist.
pub fn load_table(data: &str, opts: &CsvOptions) -> Result<Table> {
    if let Some((name, bytes)) = datasets::embedded(data) {
        return Ok(parse_csv(bytes, Path::new(name), opts)?);
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
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    Ok(match ext.as_str() {
        "npy" | "npz" => read_npy_table(path, opts)?,
        _ => read_csv(path, opts)?,
    })
}
