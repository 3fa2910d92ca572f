//! `--resume`: where the checkpoint is, which run directory it belongs to,
//! and which flags may be given again.
//!
//! A run directory is written as `.NAME.tmp-PID` beside `NAME` and renamed at
//! the end. A run killed with SIGKILL (or a machine that went down) leaves
//! only that temporary directory; `--resume NAME` finds it, says so, and
//! finishes the run into `NAME`.

use std::path::{Path, PathBuf};

use downhill::train::latest_checkpoint;

use crate::error::{CliError, Result};
use crate::settings::{Settings, TrainArgs};

/// What `--resume` resolved to.
#[derive(Debug)]
pub struct ResumeFrom {
    /// The checkpoint file to load.
    pub checkpoint: PathBuf,
    /// The run directory the resumed run is written into (unless `--out` says otherwise).
    pub run_dir: PathBuf,
    /// A temporary directory left by a killed run, removed once the resumed run is saved.
    pub leftover: Option<PathBuf>,
}

/// The name of the temporary directory of `out` written by process `pid`.
pub fn tmp_name(out: &Path, pid: u32) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    parent_of(out).join(format!(".{name}.tmp-{pid}"))
}

/// The directory `path` sits in (`.` for a bare name).
pub fn parent_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// If `dir` is a temporary run directory (`.NAME.tmp-PID`), the final path
/// `NAME` beside it and the PID.
pub fn split_tmp_name(dir: &Path) -> Option<(PathBuf, u32)> {
    let name = dir.file_name()?.to_str()?;
    let rest = name.strip_prefix('.')?;
    let (base, pid) = rest.rsplit_once(".tmp-")?;
    let pid = pid.parse().ok()?;
    (!base.is_empty()).then(|| (parent_of(dir).join(base), pid))
}

/// Whether process `pid` is alive and is a `downhill` process.
fn running(pid: u32) -> bool {
    if pid == std::process::id() {
        return false;
    }
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("downhill"))
        .unwrap_or(false)
}

/// The temporary directories `.NAME.tmp-PID` of `out` whose process is gone
/// and that hold a checkpoint, newest checkpoint last.
pub fn orphans(out: &Path) -> Vec<PathBuf> {
    let Some(name) = out.file_name().and_then(|n| n.to_str()) else {
        return vec![];
    };
    let prefix = format!(".{name}.tmp-");
    let mut found: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(parent_of(out))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .filter(|p| split_tmp_name(p).is_some_and(|(_, pid)| !running(pid)))
        .filter_map(|p| latest_checkpoint(&p.join("checkpoints")).map(|c| (p, c)))
        .collect();
    found.sort_by(|a, b| a.1.file_name().cmp(&b.1.file_name()));
    found.into_iter().map(|(p, _)| p).collect()
}

fn no_checkpoint(dir: &Path, why: &str) -> CliError {
    CliError::flag("--resume", format!("{}: {why}", dir.display()))
}

/// Resolves `--resume DIR`: a run directory, its `checkpoints/`, a
/// checkpoint file, a temporary directory left by a killed run, or the name
/// of a run that was killed before it was renamed into place.
///
/// **Errors** naming `--resume` when there is nothing to resume, or the run
/// is still being written by a live process.
pub fn locate(dir: &Path) -> Result<ResumeFrom> {
    if dir.is_file() {
        // runs/X/checkpoints/epoch-N.safetensors → runs/X
        let ck_dir = parent_of(dir);
        let run_dir = if ck_dir.file_name().is_some_and(|n| n == "checkpoints") {
            parent_of(&ck_dir)
        } else {
            ck_dir
        };
        return from_run_dir(dir.to_path_buf(), run_dir);
    }
    if dir.is_dir() {
        let ck_dir = if dir.file_name().is_some_and(|n| n == "checkpoints") {
            dir.to_path_buf()
        } else {
            dir.join("checkpoints")
        };
        let run_dir = if ck_dir == dir {
            parent_of(dir)
        } else {
            dir.to_path_buf()
        };
        let ck = latest_checkpoint(&ck_dir).or_else(|| latest_checkpoint(dir));
        return match ck {
            Some(ck) => from_run_dir(ck, run_dir),
            None => Err(no_checkpoint(
                dir,
                "no checkpoint found (expected checkpoints/epoch-*.safetensors; a run writes its first one after its first epoch)",
            )),
        };
    }
    // The final name does not exist: a killed run left `.NAME.tmp-PID`.
    let mut found = orphans(dir);
    match found.pop() {
        Some(tmp) => {
            let ck = latest_checkpoint(&tmp.join("checkpoints")).expect("orphans hold a checkpoint");
            eprintln!(
                "resume: {} was not finished; resuming from its temporary directory {} ({})",
                dir.display(),
                tmp.display(),
                ck.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            );
            Ok(ResumeFrom {
                checkpoint: ck,
                run_dir: dir.to_path_buf(),
                leftover: Some(tmp),
            })
        }
        None => Err(no_checkpoint(
            dir,
            "no such run directory, and no unfinished run of that name (.NAME.tmp-PID) with a checkpoint beside it",
        )),
    }
}

/// A checkpoint inside `run_dir`, which may itself be a temporary directory.
fn from_run_dir(checkpoint: PathBuf, run_dir: PathBuf) -> Result<ResumeFrom> {
    match split_tmp_name(&run_dir) {
        Some((_, pid)) if running(pid) => Err(no_checkpoint(
            &run_dir,
            &format!("the run is still being written by process {pid}; stop it first (Ctrl-C saves a checkpoint)"),
        )),
        Some((final_dir, _)) => Ok(ResumeFrom {
            checkpoint,
            run_dir: final_dir,
            leftover: Some(run_dir),
        }),
        None => Ok(ResumeFrom {
            checkpoint,
            run_dir,
            leftover: None,
        }),
    }
}

/// A fingerprint of a data file's contents (`crc32:XXXXXXXX:LEN`), so a
/// resumed run can tell the same data at another path from changed data.
/// `None` for the built-in datasets.
///
/// **Errors** naming `--data` if the file cannot be read.
pub fn fingerprint(data: &str) -> Result<Option<String>> {
    if crate::datasets::embedded(data).is_some() {
        return Ok(None);
    }
    let path = Path::new(data);
    if !path.is_file() {
        return Ok(None);
    }
    let mut file = std::fs::File::open(path)
        .map_err(|e| CliError::flag("--data", format!("{data}: cannot read ({e})")))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        use std::io::Read;
        let n = file
            .read(&mut buf)
            .map_err(|e| CliError::flag("--data", format!("{data}: cannot read ({e})")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok(Some(format!("crc32:{:08x}:{len}", hasher.finalize())))
}

/// `data` as an absolute path when it names an existing file (so a run
/// resumes from any working directory); built-in names stay as they are.
pub fn absolute_data(data: &str) -> String {
    if crate::datasets::embedded(data).is_some() {
        return data.to_string();
    }
    std::fs::canonicalize(data)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| data.to_string())
}

/// Checks the flags given beside `--resume` against the run's stored
/// settings: a flag equal to the stored value is accepted, one that would
/// change the run is refused. `--data` may name the same contents at
/// another path (compared by [`fingerprint`]); the stored path is then
/// replaced. Returns the settings to resume with.
///
/// **Errors** naming the first flag that differs, or `--data`/`--resume`
/// when the data file changed or is gone.
pub fn check_flags(args: &TrainArgs, mut stored: Settings) -> Result<Settings> {
    let given = Settings::resolve(args)?;
    let o = &args.opt;
    let optimizer_given = o.optimizer.is_some()
        || o.lr.is_some()
        || o.momentum.is_some()
        || o.weight_decay.is_some()
        || o.sam.is_some()
        || o.lookahead.is_some()
        || !o.opt.is_empty();
    let fixed: [(&str, bool, bool); 27] = [
        (
            "--categorical",
            args.categorical.is_some(),
            given.categorical == stored.categorical,
        ),
        (
            "--numeric",
            args.numeric.is_some(),
            given.numeric == stored.numeric,
        ),
        ("--drop", args.drop.is_some(), given.drop == stored.drop),
        (
            "--na-values",
            args.na_values.is_some(),
            given.na_values == stored.na_values,
        ),
        (
            "--max-categories",
            args.max_categories.is_some(),
            given.max_categories == stored.max_categories,
        ),
        (
            "--target",
            args.target.is_some(),
            given.target == stored.target,
        ),
        ("--task", args.task.is_some(), given.task == stored.task),
        (
            "--hidden",
            args.hidden.is_some(),
            given.hidden == stored.hidden,
        ),
        (
            "--activation",
            args.activation.is_some(),
            given.activation == stored.activation,
        ),
        (
            "--dropout",
            args.dropout.is_some(),
            given.dropout == stored.dropout,
        ),
        ("--loss", args.loss.is_some(), given.loss == stored.loss),
        (
            "--loss-opt",
            !args.loss_opt.is_empty(),
            given.loss_options == stored.loss_options,
        ),
        (
            "--optimizer",
            o.optimizer.is_some(),
            given.optimizer == stored.optimizer,
        ),
        ("--lr", optimizer_given, given.hyper == stored.hyper),
        (
            "--schedule",
            args.schedule.is_some(),
            given.schedule == stored.schedule,
        ),
        (
            "--sched",
            !args.sched.is_empty(),
            given.sched == stored.sched,
        ),
        (
            "--batch-size",
            args.batch_size.is_some(),
            given.batch_size == stored.batch_size,
        ),
        ("--seed", args.seed.is_some(), given.seed == stored.seed),
        (
            "--val-split",
            args.val_split.is_some(),
            given.val_split == stored.val_split,
        ),
        (
            "--test-split",
            args.test_split.is_some(),
            given.test_split == stored.test_split,
        ),
        (
            "--scaler",
            args.scaler.is_some(),
            given.scaler == stored.scaler,
        ),
        (
            "--clip-norm",
            args.clip_norm.is_some(),
            given.clip_norm == stored.clip_norm,
        ),
        (
            "--accumulate",
            args.accumulate.is_some(),
            given.accumulate == stored.accumulate,
        ),
        (
            "--monitor",
            args.monitor.is_some(),
            given.monitor == stored.monitor,
        ),
        (
            "--on-divergence",
            args.on_divergence.is_some(),
            given.on_divergence == stored.on_divergence,
        ),
        (
            "--swa",
            args.swa.is_some(),
            given.averaging == stored.averaging,
        ),
        (
            "--ema",
            args.ema.is_some(),
            given.averaging == stored.averaging,
        ),
    ];
    if let Some((flag, _, _)) = fixed
        .iter()
        .find(|(_, was_given, same)| *was_given && !same)
    {
        // Name the hyperparameter flag the user typed, not always --lr.
        let flag = if *flag == "--lr" && o.lr.is_none() {
            if o.momentum.is_some() {
                "--momentum"
            } else if o.weight_decay.is_some() {
                "--weight-decay"
            } else {
                "--opt"
            }
        } else {
            flag
        };
        return Err(CliError::flag(
            flag,
            "cannot be changed when resuming: the run's settings come from its checkpoint (--epochs, --max-steps, --early-stopping and --out can; flags equal to the run's are accepted)",
        ));
    }
    let data = if args.data.is_some() {
        given.data.clone()
    } else {
        stored.data.clone()
    };
    let now = fingerprint(&data)?;
    let same_data = match (&stored.data_hash, &now) {
        (Some(a), Some(b)) => a == b,
        // A run of a built-in dataset, or a checkpoint written before data fingerprints.
        _ => data == stored.data || args.data.is_none(),
    };
    if !same_data {
        let flag = if args.data.is_some() {
            "--data"
        } else {
            "--resume"
        };
        if stored.data_hash.is_none() {
            return Err(CliError::flag(
                flag,
                format!(
                    "the run was trained on {}, not {data}; resume without --data",
                    stored.data
                ),
            ));
        }
        return Err(CliError::flag(
            flag,
            format!(
                "{data}: its contents differ from the data the run was trained on ({} then, {} now); pass --data with the original file",
                stored.data_hash.as_deref().unwrap_or("?"),
                now.as_deref().unwrap_or("missing")
            ),
        ));
    }
    if crate::datasets::embedded(&data).is_none() && !Path::new(&data).is_file() {
        return Err(CliError::flag(
            "--resume",
            format!("the run's data file {data} is gone; pass --data with a copy of it"),
        ));
    }
    stored.data = data;
    if let Some(e) = args.epochs {
        stored.epochs = crate::settings::at_least_one("--epochs", Some(e), 1)?;
    }
    stored.max_steps = args.max_steps.or(stored.max_steps);
    stored.early_stopping = args.early_stopping.or(stored.early_stopping);
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_round_trip() {
        let t = tmp_name(Path::new("runs/a.b"), 42);
        assert_eq!(t, Path::new("runs/.a.b.tmp-42"));
        assert_eq!(split_tmp_name(&t), Some((PathBuf::from("runs/a.b"), 42)));
        assert_eq!(split_tmp_name(Path::new("runs/a")), None);
        assert_eq!(split_tmp_name(Path::new(".a.tmp-x")), None);
        assert_eq!(tmp_name(Path::new("x"), 1), Path::new("./.x.tmp-1"));
    }

    #[test]
    fn a_killed_run_is_found_by_its_final_name() {
        let root = std::env::temp_dir().join(format!("downhill-resume-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let out = root.join("r");
        // A dead PID (no such process) with a checkpoint, and one without.
        let tmp = tmp_name(&out, 999_999_999);
        std::fs::create_dir_all(tmp.join("checkpoints")).unwrap();
        std::fs::write(tmp.join("checkpoints/epoch-000002.safetensors"), b"x").unwrap();
        std::fs::create_dir_all(tmp_name(&out, 999_999_998).join("checkpoints")).unwrap();
        let r = locate(&out).unwrap();
        assert_eq!(r.run_dir, out);
        assert_eq!(r.leftover.as_deref(), Some(tmp.as_path()));
        assert!(r.checkpoint.ends_with("epoch-000002.safetensors"));
        // Pointing at the temporary directory itself resolves to the same run.
        let r = locate(&tmp).unwrap();
        assert_eq!(r.run_dir, out);
        // Nothing to resume: the error names --resume.
        let e = locate(&root.join("nothing")).unwrap_err().to_string();
        assert!(e.starts_with("--resume: "), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
