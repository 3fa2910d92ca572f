//! Reading an event file back (tests, tools): its complete records decoded.

use std::path::Path;

use prost::Message;

use super::proto::Event;
use super::record::{read_records, RecordsEnd};
use crate::{Error, Result};

/// The events of the file at `path` up to its last complete record, and why
/// reading stopped.
///
/// # Errors
/// [`Error::Io`] if the file cannot be read, [`Error::Parse`] naming the
/// record if a checksum-valid record is not an `Event`.
pub fn read_event_file(path: &Path) -> Result<(Vec<Event>, RecordsEnd)> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let (records, end) = read_records(&bytes);
    let events = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            Event::decode(*r).map_err(|e| Error::Parse {
                path: path.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("record {}: not a TensorBoard event ({e})", i + 1),
            })
        })
        .collect::<Result<_>>()?;
    Ok((events, end))
}
