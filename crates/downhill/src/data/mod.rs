//! Data: tables read from CSV, NPY/NPZ or Parquet, the [`Schema`] that
//! encodes them (column kinds, missing values, one-hot categories,
//! scaling), datasets, the batch loader, seeded (stratified) splits, and the
//! description of a trained model.
//!
//! A [`Frame`] is a table as it comes (numbers and text, missing cells); a
//! [`Schema`] fitted on the training rows turns it into numeric features; a
//! [`Table`] is numeric features and a target; a [`TensorDataset`] is what
//! the training loop reads batches from. [`prepare`] runs the whole chain,
//! [`TrainedModel`] loads a run directory and predicts on new tables.

mod column_builder;
mod columns;
pub mod csv;
mod csv_file;
mod csv_options;
mod csv_part;
mod decimal;
mod encode;
mod features;
mod frame;
mod frame_csv;
pub mod npy;
mod npy_format;
mod parquet;
mod pipeline;
mod read_frame;
mod schema;
mod spec;
mod table;
mod target;
mod trained;

pub use columns::{
    infer_columns, numeric_cells, ColumnReport, Kind, SchemaOptions, DEFAULT_MAX_CATEGORIES,
};
pub use csv::{parse_csv, read_csv};
pub use csv_options::CsvOptions;
pub use features::{DroppedColumn, FeatureColumn, TransformNotes};
pub use frame::{
    Column, ColumnValues, Frame, FrameOptions, TextColumn, DEFAULT_NA_VALUES, MISSING,
};
pub use frame_csv::parse_csv_frame;
pub use npy::{parse_npy, read_npy, read_npy_table, read_npz, write_npy, NpyArray};
pub(crate) use parquet::parquet_frame;
pub use pipeline::{
    encode_table, frame_target, prepare, rows_with_target, PrepareOptions, Prepared,
};
pub use read_frame::read_frame;
pub use schema::Schema;
pub use spec::{activation, default_loss, Architecture, ModelSpec, ACTIVATIONS, MODEL_FORMAT};
pub use table::{Table, TargetColumn, Task};
pub use trained::{Output, Predictions, TrainedModel};
mod dataset;
mod loader;
mod loss_target;
mod scale;
mod split;

pub use dataset::{Batch, Dataset, Targets, TensorDataset};
pub use loader::{BatchSize, DataLoader};
pub use loss_target::Target;
pub use scale::{Scaler, ScalerKind};
pub use split::{split, Split};
