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
/// Each column is decoded on its own (columns in parallel, each through its
/// own file handle), and string columns are read as Arrow dictionaries, so
/// a category is trimmed, checked against the missing tokens and interned
/// once per distinct value rather than once per row.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be opened; [`Error::Parse`] naming the
/// file if it is not Parquet, is truncated, uses a compression this build
/// lacks, or has a column of another type (dates, lists, …).
#[cfg(feature = "parquet")]
pub(crate) fn parquet_frame(path: &Path, opts: &FrameOptions) -> Result<Frame> {
    use super::column_builder::{frame_from_builders, Builder};
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    use rayon::prelude::*;

    let open = || {
        std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let unreadable = |e: parquet::errors::ParquetError| {
        parse_error(path, format!("not a readable Parquet file: {e}"))
    };
    let plain =
        ArrowReaderMetadata::load(&open()?, ArrowReaderOptions::new()).map_err(unreadable)?;
    let metadata = with_dictionaries(&plain).unwrap_or(plain);
    let rows = usize::try_from(metadata.metadata().file_metadata().num_rows()).unwrap_or(0);
    let na = opts.na_values();
    let names: Vec<String> = metadata
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    // Columns are read in parallel; the first error in column order wins.
    let read: Vec<Result<(Builder, usize)>> = (0..names.len())
        .into_par_iter()
        .map(|j| {
            let mut b = Builder::numbers_with_capacity(rows);
            let read = read_column(open()?, &metadata, j, |a| append(&mut b, a, &na)).map_err(
                |e| match e {
                    ColumnError::Decode(e) => {
                        parse_error(path, format!("cannot read the Parquet data: {e}"))
                    }
                    ColumnError::Cells(m) => {
                        parse_error(path, format!("column {:?}: {m}", names[j]))
                    }
                },
            )?;
            Ok((b, read))
        })
        .collect();
    let mut builders = Vec::with_capacity(names.len());
    for (j, r) in read.into_iter().enumerate() {
        let (b, read) = r?;
        if read != rows {
            return Err(parse_error(
                path,
                format!(
                    "column {:?} has {read} values where the file says {rows} rows",
                    names[j]
                ),
            ));
        }
        builders.push(b);
    }
    if rows == 0 {
        return Err(parse_error(path, "no rows".into()));
    }
    Ok(frame_from_builders(path, names, builders, rows, None, 0))
}

/// Why a column could not be read: its data, or one of its cells.
#[cfg(feature = "parquet")]
enum ColumnError {
    Decode(String),
    Cells(String),
}

/// Decodes column `j` of the file batch by batch, handing each array to
/// `append`; the number of values read.
#[cfg(feature = "parquet")]
fn read_column(
    file: std::fs::File,
    metadata: &parquet::arrow::arrow_reader::ArrowReaderMetadata,
    j: usize,
    mut append: impl FnMut(&dyn arrow_array::Array) -> Result<(), String>,
) -> Result<usize, ColumnError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ProjectionMask;

    let decode = |e: &dyn std::fmt::Display| ColumnError::Decode(e.to_string());
    let mask = ProjectionMask::roots(metadata.metadata().file_metadata().schema_descr(), [j]);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| decode(&e))?;
    let mut read = 0;
    for batch in reader {
        let batch = batch.map_err(|e| decode(&e))?;
        append(batch.column(0).as_ref()).map_err(ColumnError::Cells)?;
        read += batch.num_rows();
    }
    Ok(read)
}

/// The file's metadata with every string column read as an Arrow
/// dictionary (its Parquet dictionary kept where it has one); `None` if
/// the reader refuses that schema, and the columns are read as written.
#[cfg(feature = "parquet")]
fn with_dictionaries(
    plain: &parquet::arrow::arrow_reader::ArrowReaderMetadata,
) -> Option<parquet::arrow::arrow_reader::ArrowReaderMetadata> {
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    use std::sync::Arc;

    let schema = plain.schema();
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => f.as_ref().clone().with_data_type(
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(f.data_type().clone())),
            ),
            _ => f.as_ref().clone(),
        })
        .collect();
    let hinted = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let options = ArrowReaderOptions::new().with_schema(hinted);
    ArrowReaderMetadata::try_new(plain.metadata().clone(), options).ok()
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
            let values = p.values().iter().map(|&v| v as f64);
            match p.nulls().filter(|n| n.null_count() > 0) {
                None => b.extend_numbers(values),
                Some(n) => {
                    b.extend_numbers(
                        values
                            .zip(n.iter())
                            .map(|(v, valid)| if valid { v } else { f64::NAN }),
                    )
                }
            }
            .map_err(infinite)?;
        }};
    }
    let missing = |s: &str| na.iter().any(|t| t == s);
    let mut text = |s: Option<&str>| -> Result<(), String> {
        match s.map(str::trim) {
            None => b.push_missing(),
            Some(s) if missing(s) => b.push_missing(),
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
            // Each distinct value trimmed and checked against the missing
            // tokens once (`None`: missing), and interned once.
            let strings: Vec<Option<&str>> = match **value {
                DataType::Utf8 => values.as_string::<i32>().iter().collect(),
                _ => values.as_string::<i64>().iter().collect(),
            };
            let cells: Vec<Option<&str>> = strings
                .iter()
                .map(|s| s.map(str::trim).filter(|s| !missing(s)))
                .collect();
            let mut codes = vec![None; cells.len()];
            let nulls = a.logical_nulls();
            for (i, k) in d.normalized_keys().into_iter().enumerate() {
                let null = nulls.as_ref().is_some_and(|n| n.is_null(i));
                match cells.get(k).copied().flatten() {
                    Some(s) if !null => b.push_remembered(s, &mut codes[k]).map_err(infinite)?,
                    _ => b.push_missing(),
                }
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

#[cfg(all(test, feature = "parquet"))]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, DictionaryArray, Float64Array, RecordBatch, StringArray};
    use arrow_schema::DataType;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;
    use crate::data::parse_csv_frame;

    /// Rows enough for several row groups, pages and read batches.
    const ROWS: usize = 150_000;

    fn cell(i: usize) -> [Option<String>; 4] {
        let x = (i % 11 != 3).then(|| format!("{}", (i as f64) * 0.25 - 7.0));
        // Numbers as strings until a word near the end turns the column to text.
        let mixed = match i {
            _ if i.is_multiple_of(13) => None,
            149_000 => Some("seven".to_string()),
            _ => Some(format!("{}", i % 5)),
        };
        let padded = [" a", "b ", "NA", " ", "a", "?"][i % 6].to_string();
        let id = (!i.is_multiple_of(17)).then(|| format!("id{i}"));
        [x, mixed, Some(padded), id]
    }

    #[test]
    fn dictionaries_and_numbers_across_batches_read_like_the_same_csv() {
        let cells: Vec<_> = (0..ROWS).map(cell).collect();
        let column =
            |k: usize| -> Vec<Option<&str>> { cells.iter().map(|c| c[k].as_deref()).collect() };
        let x: Float64Array = cells
            .iter()
            .map(|c| c[0].as_ref().map(|s| s.parse::<f64>().unwrap()))
            .collect();
        let padded: DictionaryArray<arrow_array::types::Int32Type> =
            column(2).into_iter().collect();
        let batch = RecordBatch::try_from_iter([
            ("x", Arc::new(x) as ArrayRef),
            ("mixed", Arc::new(StringArray::from(column(1))) as ArrayRef),
            ("padded", Arc::new(padded) as ArrayRef),
            ("id", Arc::new(StringArray::from(column(3))) as ArrayRef),
        ])
        .unwrap();
        assert!(matches!(
            batch.column(2).data_type(),
            DataType::Dictionary(..)
        ));
        let dir = std::env::temp_dir().join(format!("downhill-parquet-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.parquet");
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(40_000))
            .set_dictionary_page_size_limit(64 * 1024)
            .build();
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            batch.schema(),
            Some(props),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let mut csv = String::from("x,mixed,padded,id\n");
        for c in &cells {
            let fields: Vec<&str> = c.iter().map(|f| f.as_deref().unwrap_or("")).collect();
            csv.push_str(&fields.join(","));
            csv.push('\n');
        }
        let plain = parquet::arrow::arrow_reader::ArrowReaderMetadata::load(
            &std::fs::File::open(&path).unwrap(),
            Default::default(),
        )
        .unwrap();
        let hinted = with_dictionaries(&plain).expect("string columns read as dictionaries");
        let types: Vec<bool> = hinted
            .schema()
            .fields()
            .iter()
            .map(|f| matches!(f.data_type(), DataType::Dictionary(..)))
            .collect();
        assert_eq!(types, [false, true, true, true]);
        let opts = FrameOptions::default();
        let pq = parquet_frame(&path, &opts).unwrap();
        let csv = parse_csv_frame(csv.as_bytes(), Path::new("t.csv"), &opts).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(pq.rows, ROWS);
        assert_eq!(pq.names(), csv.names());
        for (a, b) in pq.columns.iter().zip(&csv.columns) {
            for r in 0..ROWS {
                assert_eq!(a.text(r), b.text(r), "{} row {r}", a.name);
            }
        }
        let kinds: Vec<bool> = pq
            .columns
            .iter()
            .map(|c| matches!(c.values, super::super::frame::ColumnValues::Numbers(_)))
            .collect();
        assert_eq!(kinds, [true, false, false, false]);
        assert_eq!(
            pq.columns[2].missing(),
            ROWS / 2,
            "NA, blank and ? are missing"
        );
    }
}
