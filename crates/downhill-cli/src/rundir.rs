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
    /// A temporary directory of an earlier, killed run of `out`, removed at the end.
    leftover: Option<PathBuf>,
}

/// An `--out` error: names the flag and the final path, never the temporary one.
fn out_error(out: &Path, what: &str, e: std::io::Error) -> CliError {
    CliError::flag("--out", format!("{}: cannot {what} ({e})", out.display()))
}

impl RunDir {
    /// Checks that `out` does not exist yet and creates the temporary directory.
    ///
    /// **Errors** naming `--out` if `out` exists or cannot be written.
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
        Self::start(out, None, None)
    }

    /// A run directory for a resumed run that is written into `out` (which
    /// may exist: it is replaced at the end): the checkpoints of `from` are
    /// carried over (hard links where possible), and `leftover` (the
    /// temporary directory of a killed run) is removed at the end.
    ///
    /// **Errors** naming `--out` if the directory cannot be written.
    pub fn resume_into(out: &Path, from: &Path, leftover: Option<PathBuf>) -> Result<RunDir> {
        Self::start(out, Some(from), leftover)
    }

    fn start(out: &Path, carry: Option<&Path>, leftover: Option<PathBuf>) -> Result<RunDir> {
        let parent = crate::resume::parent_of(out);
        std::fs::create_dir_all(&parent).map_err(|e| out_error(out, "create its parent", e))?;
        let tmp = crate::resume::tmp_name(out, std::process::id());
        let _ = std::fs::remove_dir_all(&tmp);
        let run = RunDir {
            tmp,
            out: out.to_path_buf(),
            leftover,
        };
        std::fs::create_dir_all(run.tmp.join("checkpoints"))
            .map_err(|e| out_error(out, "create the run directory", e))?;
        if let Some(from) = carry {
            run.carry_checkpoints(&from.join("checkpoints"))?;
        }
        Ok(run)
    }

    /// Links (or copies) the checkpoint files of `dir` into this run's `checkpoints/`.
    fn carry_checkpoints(&self, dir: &Path) -> Result<()> {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let src = entry.path();
            let is_ck = src.extension().is_some_and(|e| e == "safetensors")
                && !src
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !is_ck {
                continue;
            }
            let dst = self.tmp.join("checkpoints").join(entry.file_name());
            if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst).map_err(|e| {
                    out_error(&self.out, "copy the checkpoints of the run it resumes", e)
                })?;
            }
        }
        Ok(())
    }

    /// A file inside the run directory (while it is being written).
    pub fn file(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// Renames the finished directory into place (replacing the run it
    /// resumed, if any) and removes the leftover of a killed run.
    ///
    /// **Errors** naming `--out` on I/O failure.
    pub fn finish(self) -> Result<PathBuf> {
        let mut old = None;
        if self.out.exists() {
            let aside = crate::resume::parent_of(&self.out).join(format!(
                ".{}.old-{}",
                self.out
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                std::process::id()
            ));
            std::fs::rename(&self.out, &aside)
                .map_err(|e| out_error(&self.out, "replace the earlier run", e))?;
            old = Some(aside);
        }
        if let Err(e) = std::fs::rename(&self.tmp, &self.out) {
            if let Some(aside) = &old {
                let _ = std::fs::rename(aside, &self.out);
            }
            return Err(out_error(&self.out, "move the finished run into place", e));
        }
        for dir in old.iter().chain(&self.leftover) {
            let _ = std::fs::remove_dir_all(dir);
        }
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
