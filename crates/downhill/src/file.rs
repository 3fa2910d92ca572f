//! Writing files so that a crash never leaves a half-written one: the one
//! atomic writer of the crate (checkpoints, weights, history, plots, and the
//! CLI's run files all go through [`write_atomic`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

/// Distinguishes concurrent writes of the same file within one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` atomically: a fresh temporary file in the same
/// directory (`.NAME.tmp-PID-N`, created exclusively), written, flushed and
/// synced, renamed over `path`, then the directory synced so the rename
/// itself survives a power cut. A crash at any moment leaves either the old
/// file or the new one, never a mix.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("downhill-doc-atomic-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("notes.txt");
/// downhill::file::write_atomic(&path, b"first").unwrap();
/// downhill::file::write_atomic(&path, b"second").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"second");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// [`Error::Io`] naming `path` (never the temporary file) when the directory
/// is missing or not writable, the disk is full, or the rename fails; the
/// temporary file is removed and `path` keeps its old contents.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Like [`write_atomic`], with the contents streamed by `write` into a
/// buffered writer instead of held in memory first (checkpoints are written
/// tensor by tensor this way).
///
/// # Errors
/// As [`write_atomic`]; an error returned by `write` too.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp: PathBuf = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    // The rename is durable once the directory entry is on disk; a failure
    // here (some filesystems refuse to open a directory) loses nothing now.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("downhill-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let d = scratch("replace");
        let p = d.join("a.bin");
        std::fs::write(&p, b"old").unwrap();
        write_atomic(&p, b"new contents").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new contents");
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.bin")]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failed_write_names_the_target_and_keeps_nothing() {
        let d = scratch("fail");
        let p = d.join("missing-dir").join("a.bin");
        let e = write_atomic(&p, b"x").unwrap_err();
        match e {
            Error::Io { path, .. } => assert_eq!(path, p),
            other => panic!("expected Io, got {other}"),
        }
        // The target is a directory: the rename fails, the temporary goes.
        let target = d.join("is-a-dir");
        std::fs::create_dir(&target).unwrap();
        assert!(write_atomic(&target, b"x").is_err());
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("is-a-dir")]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
