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
    let target = Target::of(path);
    let written = (|| -> std::io::Result<()> {
        write_synced(target.create()?, write)?;
        std::fs::rename(&target.tmp, path)
    })();
    if let Err(source) = written {
        return Err(target.failed(source));
    }
    target.sync_dir();
    Ok(())
}

/// Like [`write_atomic_with`], but only the writing happens before it
/// returns: the sync of the temporary file, the rename over `path`, the
/// directory's sync and then `after` (e.g. removing older files, now that
/// the new one is safe) run on a thread of their own, so a caller such as
/// the training loop goes on while the disk catches up. `path` appears only
/// once its contents are on disk, so a crash at any moment still leaves the
/// old file or the new one, never a mix. [`PendingWrite::wait`] returns
/// that thread's outcome; dropping the handle waits for it too.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("downhill-doc-deferred-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("state.bin");
/// let pending = downhill::file::write_atomic_deferred(&path, |w| w.write_all(b"abc"), || {}).unwrap();
/// pending.wait().unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"abc");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// As [`write_atomic`] for the writing, here; the sync's and the rename's
/// errors come from [`PendingWrite::wait`], naming `path`, with the
/// temporary file removed and `path` unchanged (`after` then does not run).
pub fn write_atomic_deferred(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    after: impl FnOnce() + Send + 'static,
) -> Result<PendingWrite> {
    let target = Target::of(path);
    let file = (|| -> std::io::Result<std::fs::File> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, target.create()?);
        write(&mut out)?;
        out.into_inner().map_err(|e| e.into_error())
    })()
    .map_err(|source| target.failed(source))?;
    let job = std::thread::Builder::new()
        .name("downhill-sync".into())
        .spawn(move || -> Result<()> {
            let finished = file
                .sync_all()
                .and_then(|()| std::fs::rename(&target.tmp, &target.path));
            if let Err(source) = finished {
                return Err(target.failed(source));
            }
            target.sync_dir();
            after();
            Ok(())
        })
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(PendingWrite {
        path: path.to_path_buf(),
        job: Some(job),
    })
}

/// The file [`write_atomic_deferred`] is still making durable.
#[must_use = "the write's outcome is known only from wait()"]
#[derive(Debug)]
pub struct PendingWrite {
    path: PathBuf,
    job: Option<std::thread::JoinHandle<Result<()>>>,
}

impl PendingWrite {
    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the file is on disk under its name.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when the sync or the rename failed.
    pub fn wait(mut self) -> Result<()> {
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        match self.job.take() {
            Some(job) => job.join().expect("the sync thread does not panic"),
            None => Ok(()),
        }
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Where an atomic write goes: the file, its directory and the temporary
/// file beside it (`.NAME.tmp-PID-N`).
struct Target {
    path: PathBuf,
    dir: PathBuf,
    tmp: PathBuf,
}

impl Target {
    fn of(path: &Path) -> Target {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        Target {
            path: path.to_path_buf(),
            dir,
            tmp,
        }
    }

    /// The temporary file, created exclusively.
    fn create(&self) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.tmp)
    }

    /// Removes the temporary file; the error names the target.
    fn failed(&self, source: std::io::Error) -> Error {
        let _ = std::fs::remove_file(&self.tmp);
        Error::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The rename is durable once the directory entry is on disk; a failure
    /// here (some filesystems refuse to open a directory) loses nothing now.
    fn sync_dir(&self) {
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
    }
}

/// Bytes written between two syncs started by [`write_synced`]'s helper
/// thread.
const SYNC_EVERY: usize = 16 << 20;

/// Runs `write` into `f` through a 1 MiB buffer, then syncs `f` (data and
/// metadata). A large file is synced as it grows: every [`SYNC_EVERY`]
/// bytes a helper thread asks the disk for what is written so far, so the
/// device writes while the next bytes are produced and the final sync waits
/// only for the tail (H = 4096 checkpoint, 205 MB: 0.37 s of final sync
/// alone before).
fn write_synced(
    f: std::fs::File,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let syncer = f.try_clone()?;
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|s| {
        let helper = s.spawn(move || -> std::io::Result<()> {
            while rx.recv().is_ok() {
                while rx.try_recv().is_ok() {}
                syncer.sync_data()?;
            }
            Ok(())
        });
        let mut out = std::io::BufWriter::with_capacity(
            1 << 20,
            SyncingWriter {
                file: f,
                since_sync: 0,
                tx: Some(tx),
            },
        );
        let done = write(&mut out).and_then(|()| out.flush());
        let mut inner = out.into_inner().map_err(|e| e.into_error())?;
        inner.tx = None;
        let helped = helper.join().expect("the sync thread does not panic");
        done?;
        helped?;
        inner.file.sync_all()
    })
}

/// A file that tells a sync thread (through `tx`) every [`SYNC_EVERY`]
/// bytes written, writing at most that much per call.
struct SyncingWriter {
    file: std::fs::File,
    since_sync: usize,
    tx: Option<std::sync::mpsc::Sender<()>>,
}

impl Write for SyncingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(&buf[..buf.len().min(SYNC_EVERY)])?;
        self.since_sync += n;
        if self.since_sync >= SYNC_EVERY {
            self.since_sync = 0;
            if let Some(tx) = &self.tx {
                // The helper is gone only after an error, reported at the end.
                let _ = tx.send(());
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
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

    fn names(d: &Path) -> Vec<std::ffi::OsString> {
        let mut v: Vec<_> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let d = scratch("replace");
        let p = d.join("a.bin");
        std::fs::write(&p, b"old").unwrap();
        write_atomic(&p, b"new contents").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new contents");
        assert_eq!(names(&d), vec![std::ffi::OsString::from("a.bin")]);
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
        assert_eq!(names(&d), vec![std::ffi::OsString::from("is-a-dir")]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_file_larger_than_a_sync_interval_arrives_whole() {
        let d = scratch("large");
        let p = d.join("big.bin");
        // 2.5 sync intervals, in pieces of odd sizes and one larger than the interval.
        let data: Vec<u8> = (0..SYNC_EVERY * 5 / 2).map(|i| (i % 251) as u8).collect();
        write_atomic_with(&p, |w| {
            w.write_all(&data[..7])?;
            w.write_all(&data[7..SYNC_EVERY + 13])?;
            for piece in data[SYNC_EVERY + 13..].chunks(100_003) {
                w.write_all(piece)?;
            }
            Ok(())
        })
        .unwrap();
        assert!(
            std::fs::read(&p).unwrap() == data,
            "the file differs from what was written"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_deferred_write_appears_whole_after_wait_then_runs_after() {
        let d = scratch("deferred");
        let p = d.join("ck.bin");
        std::fs::write(&p, b"old").unwrap();
        std::fs::write(d.join("older.bin"), b"x").unwrap();
        let data: Vec<u8> = (0..3_000_000).map(|i| (i % 253) as u8).collect();
        let older = d.join("older.bin");
        let pending = write_atomic_deferred(
            &p,
            |w| w.write_all(&data),
            move || std::fs::remove_file(older).unwrap(),
        )
        .unwrap();
        assert_eq!(pending.path(), p.as_path());
        pending.wait().unwrap();
        assert!(std::fs::read(&p).unwrap() == data);
        assert_eq!(names(&d), vec![std::ffi::OsString::from("ck.bin")]);
        // Dropping the handle waits too.
        drop(write_atomic_deferred(&p, |w| w.write_all(b"new"), || {}).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_deferred_write_that_fails_keeps_the_old_file_and_no_temporary() {
        let d = scratch("deferred-fail");
        let p = d.join("a.bin");
        std::fs::write(&p, b"old").unwrap();
        let e = write_atomic_deferred(
            &p,
            |w| {
                w.write_all(&[1u8; 100])?;
                Err(std::io::Error::other("the producer failed"))
            },
            || panic!("after runs only on success"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("the producer failed"), "{e}");
        // The rename fails (the target is a directory): reported by wait.
        let target = d.join("is-a-dir");
        std::fs::create_dir(&target).unwrap();
        let pending = write_atomic_deferred(
            &target,
            |w| w.write_all(b"x"),
            || panic!("after runs only on success"),
        )
        .unwrap();
        match pending.wait().unwrap_err() {
            Error::Io { path, .. } => assert_eq!(path, target),
            other => panic!("expected Io, got {other}"),
        }
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(
            names(&d),
            vec![
                std::ffi::OsString::from("a.bin"),
                std::ffi::OsString::from("is-a-dir")
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_error_while_streaming_keeps_the_old_file_and_no_temporary() {
        let d = scratch("stream-fail");
        let p = d.join("a.bin");
        std::fs::write(&p, b"old").unwrap();
        let big = vec![1u8; SYNC_EVERY + 1];
        let e = write_atomic_with(&p, |w| {
            w.write_all(&big)?;
            Err(std::io::Error::other("the producer failed"))
        })
        .unwrap_err();
        assert!(e.to_string().contains("the producer failed"), "{e}");
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        assert_eq!(names(&d), vec![std::ffi::OsString::from("a.bin")]);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
