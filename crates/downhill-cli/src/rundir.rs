//! Run directories: written under a temporary name and renamed into place
//! at the end, so a failed or interrupted run never leaves a half-written one.

use std::path::{Path, PathBuf};

use crate::error::{CliError, Result};

/// `runs/<UTC date-time>` (e.g. `runs/2026-11-25T17-04-05`).
pub fn default_out() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d, hh, mm, ss) = utc(secs);
    PathBuf::from(format!("runs/{y:04}-{m:02}-{d:02}T{hh:02}-{mm:02}-{ss:02}"))
}

/// Year, month, day, hour, minute, second (UTC) of `secs` since 1970.
pub fn utc(secs: u64) -> (i64, i64, i64, u64, u64, u64) {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// A run directory being written: `.NAME.tmp-PID` beside the final path.
pub struct RunDir {
    /// Where it is being written.
    pub tmp: PathBuf,
    /// Where it goes at the end.
    pub out: PathBuf,
}

fn io(path: &Path, e: std::io::Error) -> CliError {
    CliError::Lib(downhill::Error::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

impl RunDir {
    /// Checks that `out` does not exist yet and creates the temporary directory.
    ///
    /// **Errors** naming `--out` if `out` exists, or the directory on I/O failure.
    pub fn create(out: &Path) -> Result<RunDir> {
        if out.exists() {
            return Err(CliError::flag(
                "--out",
                format!(
                    "{} already exists; choose a new directory (nothing was overwritten)",
                    out.display()
                ),
            ));
        }
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("checkpoints")).map_err(|e| io(&tmp, e))?;
        Ok(RunDir {
            tmp,
            out: out.to_path_buf(),
        })
    }

    /// A file inside the run directory (while it is being written).
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Renames the finished directory into place.
    ///
    /// **Errors** on I/O failure.
    pub fn finish(self) -> Result<PathBuf> {
        std::fs::rename(&self.tmp, &self.out).map_err(|e| io(&self.out, e))?;
        // Drop finds nothing left at `tmp` to remove.
        Ok(self.out.clone())
    }
}

impl Drop for RunDir {
    /// A run that did not finish removes its temporary directory.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}
