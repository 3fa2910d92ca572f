//! [`EventWriter`]: one `events.out.tfevents.*` file, written through a
//! buffer that is flushed on request (the trainer's callback flushes at every
//! epoch end), so a crash leaves a file readable up to the last flush.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use super::histogram::histogram;
use super::proto::{Event, Kind, Summary, Value, What};
use super::record::append_record;
use crate::{Error, Result};

/// The buffer is written out once it holds this many bytes, flush or not.
const MAX_BUFFER: usize = 1 << 22;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn wall_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// This machine's name as the kernel reports it ("localhost" if unknown).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(['/', '\\']))
        .unwrap_or_else(|| "localhost".into())
}

/// Writes TensorBoard events to a new file in a directory.
///
/// ```
/// use downhill::train::tensorboard::{read_records, EventWriter, RecordsEnd};
///
/// let dir = std::env::temp_dir().join(format!("downhill-doc-ew-{}", std::process::id()));
/// let mut w = EventWriter::create(&dir)?;
/// w.add_scalar("loss", 0.5, 1);
/// w.flush()?;
/// let bytes = std::fs::read(w.path())?;
/// let (records, end) = read_records(&bytes);
/// assert_eq!((records.len(), end), (2, RecordsEnd::Clean)); // file version + the scalar
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EventWriter {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl EventWriter {
    /// Creates `dir` if needed and a new event file in it,
    /// `events.out.tfevents.<seconds>.<host>.<pid>.<n>` (`n` makes the name
    /// unique), starting with the `brain.Event:2` file-version record.
    ///
    /// # Errors
    /// [`Error::Io`] naming the directory or file if it cannot be created.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let now = wall_time();
        let stem = format!(
            "events.out.tfevents.{}.{}.{}",
            now as u64,
            hostname(),
            std::process::id()
        );
        let mut n = 0;
        let (path, file) = loop {
            let path = dir.join(format!("{stem}.{n}"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => break (path, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(Error::Io { path, source: e }),
            }
        };
        let mut w = EventWriter {
            path,
            file,
            buf: Vec::with_capacity(1 << 16),
            scratch: Vec::with_capacity(256),
        };
        w.add_event(&Event {
            wall_time: now,
            step: 0,
            what: Some(What::FileVersion("brain.Event:2".into())),
        });
        w.flush()?;
        Ok(w)
    }

    /// The event file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Buffers one event.
    pub fn add_event(&mut self, event: &Event) {
        self.scratch.clear();
        event
            .encode(&mut self.scratch)
            .expect("a Vec grows to fit any message");
        append_record(&mut self.buf, &self.scratch);
        if self.buf.len() >= MAX_BUFFER {
            // A failure here resurfaces at the next flush, which reports it.
            let _ = self.write_buffer();
        }
    }

    /// Buffers summary values as one event at `step`, stamped now.
    pub fn add_values(&mut self, step: i64, values: Vec<Value>) {
        self.add_event(&Event {
            wall_time: wall_time(),
            step,
            what: Some(What::Summary(Summary { value: values })),
        });
    }

    /// Buffers a scalar (stored as `f32`, as TensorBoard does).
    pub fn add_scalar(&mut self, tag: &str, value: f64, step: i64) {
        self.add_values(step, vec![scalar(tag, value)]);
    }

    /// Buffers a histogram of the finite `values` (30 equal-width buckets).
    pub fn add_histogram(&mut self, tag: &str, values: &[f64], step: i64) {
        let value = Value {
            tag: tag.to_string(),
            metadata: None,
            kind: Some(Kind::Histo(histogram(values, 30))),
        };
        self.add_values(step, vec![value]);
    }

    fn write_buffer(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.file.write_all(&self.buf);
        self.buf.clear();
        r
    }

    /// Writes the buffered events to the file.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file on a failed write.
    pub fn flush(&mut self) -> Result<()> {
        self.write_buffer()
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::Io {
                path: self.path.clone(),
                source: e,
            })
    }
}

impl Drop for EventWriter {
    /// Writes what is still buffered (errors are lost: call
    /// [`EventWriter::flush`] to see them).
    fn drop(&mut self) {
        let _ = self.write_buffer();
    }
}

/// A scalar summary value.
pub fn scalar(tag: &str, value: f64) -> Value {
    Value {
        tag: tag.to_string(),
        metadata: None,
        kind: Some(Kind::SimpleValue(value as f32)),
    }
}
