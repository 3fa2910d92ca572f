//! Parquet files into a [`Frame`] (the `parquet` cargo feature, on by
//! default): integer, float, boolean, string and dictionary columns, nulls
//! as missing cells.

use std::path::Path;

use super::frame::{Frame, FrameOptions};
use crate::{Error, Result};

fn parse_error(path: &Path, message: String) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message,
    }
}

/// Reads a Parquet file into a frame.
#[cfg(not(feature = "parquet"))]
pub(crate) fn parquet_frame(path: &Path, _opts: &FrameOptions) -> Result<Frame> {
    Err(parse_error(
        path,
        "this build has no Parquet support (build downhill with the `parquet` feature)".into(),
    ))
}

/// Reads a Parquet file into a frame: numbers stay numbers (NaN and null
/// are missing), booleans become the text `true`/`false`, strings (plain or
/// dictionary-encoded) are read like CSV cells (missing tokens, numbers).
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be opened; [`Error::Parse`] naming the
/// file if it is not Parquet, is truncated, uses a compression this build
/// lacks, or has a column of another type (dates, lists, …).
#[cfg(feature = "parquet")]
pub(crate) fn parquet_frame(path: &Path, opts: &FrameOptions) -> Result<Frame> {
    use super::column_builder::{frame_from_builders, Builder};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use rayon::prelude::*;

    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| parse_error(path, format!("not a readable Parquet file: {e}")))?;
    let schema = builder.schema().clone();
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| parse_error(path, format!("not a readable Parquet file: {e}")))?;
    let na = opts.na_values();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut builders: Vec<Builder> = names.iter().map(|_| Builder::Numbers(Vec::new())).collect();
    let mut rows = 0;
    for batch in reader {
        let batch =
            batch.map_err(|e| parse_error(path, format!("cannot read the Parquet data: {e}")))?;
        // Columns are appended in parallel; the first error in column order wins.
        let appended: Vec<Result<(), String>> = builders
            .par_iter_mut()
            .enumerate()
            .map(|(j, b)| append(b, batch.column(j).as_ref(), &na))
            .collect();
        for (j, r) in appended.into_iter().enumerate() {
            r.map_err(|m| parse_error(path, format!("column {:?}: {m}", names[j])))?;
        }
        rows += batch.num_rows();
    }
    if rows == 0 {
        return Err(parse_error(path, "no rows".into()));
    }
    Ok(frame_from_builders(path, names, builders, rows, None, 0))
}

/// Appends one Arrow array's cells to a column.
#[cfg(feature = "parquet")]
fn append(
    b: &mut super::column_builder::Builder,
    a: &dyn arrow_array::Array,
    na: &[String],
) -> Result<(), String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_array::Array;
    use arrow_schema::DataType;

    let infinite = |_| "an infinite number".to_string();
    macro_rules! numbers {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            for i in 0..p.len() {
                if p.is_null(i) {
                    b.push_missing();
                } else {
                    b.push_number(p.value(i) as f64).map_err(infinite)?;
                }
            }
        }};
    }
    let mut text = |s: Option<&str>| -> Result<(), String> {
        match s.map(str::trim) {
            None => b.push_missing(),
            Some(s) if na.iter().any(|t| t == s) => b.push_missing(),
            Some(s) => b.push(s).map_err(infinite)?,
        }
        Ok(())
    };
    match a.data_type() {
        DataType::Int8 => numbers!(Int8Type),
        DataType::Int16 => numbers!(Int16Type),
        DataType::Int32 => numbers!(Int32Type),
        DataType::Int64 => numbers!(Int64Type),
        DataType::UInt8 => numbers!(UInt8Type),
        DataType::UInt16 => numbers!(UInt16Type),
        DataType::UInt32 => numbers!(UInt32Type),
        DataType::UInt64 => numbers!(UInt64Type),
        DataType::Float32 => numbers!(Float32Type),
        DataType::Float64 => numbers!(Float64Type),
        DataType::Boolean => {
            let p = a.as_boolean();
            for i in 0..p.len() {
                text((!p.is_null(i)).then(|| if p.value(i) { "true" } else { "false" }))?;
            }
        }
        DataType::Utf8 => {
            for s in a.as_string::<i32>() {
                text(s)?;
            }
        }
        DataType::LargeUtf8 => {
            for s in a.as_string::<i64>() {
                text(s)?;
            }
        }
        DataType::Utf8View => {
            for s in a.as_string_view() {
                text(s)?;
            }
        }
        DataType::Dictionary(_, value)
            if matches!(**value, DataType::Utf8 | DataType::LargeUtf8) =>
        {
            let d = a.as_any_dictionary();
            let values = d.values();
            let strings: Vec<Option<&str>> = match **value {
                DataType::Utf8 => values.as_string::<i32>().iter().collect(),
                _ => values.as_string::<i64>().iter().collect(),
            };
            let nulls = a.logical_nulls();
            for (i, k) in d.normalized_keys().into_iter().enumerate() {
                let null = nulls.as_ref().is_some_and(|n| n.is_null(i));
                text(if null {
                    None
                } else {
                    strings.get(k).copied().flatten()
                })?;
            }
        }
        other => {
            return Err(format!(
            "type {other} is not supported (numbers, booleans and strings are); convert or drop it"
        ))
        }
    }
    Ok(())
}
