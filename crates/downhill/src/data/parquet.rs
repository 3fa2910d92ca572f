//! Parquet files into a [`Frame`] (the `parquet` cargo feature).

use std::path::Path;

use super::frame::{Frame, FrameOptions};
use crate::{Error, Result};

/// Reads a Parquet file into a frame.
#[cfg(not(feature = "parquet"))]
pub(crate) fn parquet_frame(path: &Path, _opts: &FrameOptions) -> Result<Frame> {
    Err(Error::Parse {
        path: path.to_path_buf(),
        line: 0,
        column: 0,
        message: "this build has no Parquet support (build with the `parquet` feature)".into(),
    })
}
