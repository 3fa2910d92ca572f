//! Data: tables read from CSV or NPY/NPZ, datasets, the batch loader,
//! seeded (stratified) splits and feature scaling.
//!
//! A [`Table`] is what a file holds (features as `f64`, the target as class
//! indices or values); a [`TensorDataset`] is what the training loop reads
//! batches from.

pub mod csv;
pub mod npy;
mod npy_format;
mod table;
mod target;

pub use csv::{parse_csv, read_csv, CsvOptions};
pub use npy::{parse_npy, read_npy, read_npy_table, read_npz, write_npy, NpyArray};
pub use table::{Table, TargetColumn, Task};
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
