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
