//! Interrupted runs: Ctrl-C/SIGTERM save a resumable run and say how to
//! continue; a run killed with SIGKILL is found by `--resume NAME` and
//! finished into its own directory, bit-identical to an uninterrupted run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use common::{bin, metrics, ok, run, scratch};

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Entries of `dir` whose name starts with `prefix`.
fn entries(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect()
}

/// Waits until the child's temporary run directory holds a checkpoint;
/// `false` if the child exited first.
fn wait_for_checkpoint(child: &mut Child, tmp: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let found = std::fs::read_dir(tmp.join("checkpoints"))
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("epoch-"))
            })
            .unwrap_or(false);
        if found {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("no checkpoint appeared in {}", tmp.display());
}

fn signal(child: &Child, sig: &str) {
    let s = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(s.success());
}

const LONG: [&str; 10] = [
    "train",
    "--data",
    "iris",
    "--batch-size",
    "1",
    "--epochs",
    "100000",
    "--hidden",
    "16",
    "--quiet",
];

#[test]
fn sigint_and_sigterm_save_a_resumable_run_and_say_how_to_continue() {
    for sig in ["-INT", "-TERM"] {
        let dir = scratch(&format!("sig{sig}"));
        let mut args = LONG.to_vec();
        args.extend(["--out", "r"]);
        let mut child = spawn(&dir, &args);
        let tmp = dir.join(format!(".r.tmp-{}", child.id()));
        assert!(wait_for_checkpoint(&mut child, &tmp), "the run ended early");
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(130), "{stdout}");
        assert!(
            stdout.contains("continue with: downhill train --resume r"),
            "{stdout}"
        );
        assert!(
            stdout.contains("saved r/"),
            "--quiet keeps the summary: {stdout}"
        );
        let r = dir.join("r");
        let m = metrics(&r);
        assert_eq!(m["stopped_because"], "interrupted");
        assert!(
            entries(&dir, ".r.").is_empty(),
            "no temporary directory left"
        );
        // Resuming continues in the same directory.
        let epochs = m["epochs_run"].as_u64().unwrap() + 2;
        let e = epochs.to_string();
        let stdout = ok(&dir, &["train", "--resume", "r", "--epochs", &e, "--quiet"]);
        assert!(stdout.contains("saved r/"), "{stdout}");
        let m = metrics(&r);
        assert_eq!(m["stopped_because"], "budget");
        assert_eq!(m["epochs_run"].as_u64(), Some(epochs));
        assert_eq!(entries(&dir, "").len(), 1, "only r/ remains");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_killed_run_resumes_into_its_own_directory_bit_identically() {
    let dir = scratch("kill");
    let common = [
        "train",
        "--data",
        "iris",
        "--batch-size",
        "1",
        "--hidden",
        "16",
        "--dropout",
        "0.1",
        "--epochs",
        "60",
        "--quiet",
    ];
    let with = |out: &str| {
        let mut a = common.to_vec();
        a.extend(["--out", out]);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let straight = with("a");
    ok(
        &dir,
        &straight.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let want = std::fs::read(dir.join("a/model.safetensors")).unwrap();
    let mut kills = 0;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for round in 0..8 {
        let out = format!("k{round}");
        let args = with(&out);
        let mut child = spawn(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let tmp = dir.join(format!(".{out}.tmp-{}", child.id()));
        if !wait_for_checkpoint(&mut child, &tmp) {
            continue;
        }
        // A random point after the first checkpoint: 0–40 ms.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(seed % 40_000));
        signal(&child, "-KILL");
        let status = child.wait().unwrap();
        if status.success() {
            continue; // it finished before the kill
        }
        kills += 1;
        assert!(!dir.join(&out).exists());
        let o = run(&dir, &["train", "--resume", &out, "--quiet"]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "resume failed: {stderr}");
        assert!(
            stderr.contains("was not finished; resuming from its temporary directory"),
            "{stderr}"
        );
        let got = std::fs::read(dir.join(&out).join("model.safetensors")).unwrap();
        assert!(
            got == want,
            "round {round}: resumed model differs from the straight run"
        );
        assert!(
            entries(&dir, &format!(".{out}.")).is_empty(),
            "the temporary directory was cleaned up"
        );
    }
    assert!(kills >= 2, "only {kills} runs were killed before finishing");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_accepts_equal_flags_and_the_same_data_at_another_path() {
    let dir = scratch("moved");
    let iris = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/iris.csv");
    std::fs::create_dir_all(dir.join("x")).unwrap();
    std::fs::copy(&iris, dir.join("x/iris.csv")).unwrap();
    ok(
        &dir,
        &[
            "train",
            "--data",
            "x/iris.csv",
            "--hidden",
            "8",
            "--epochs",
            "3",
            "--out",
            "r",
            "--quiet",
        ],
    );
    // Another working directory, the data moved, the same flags typed again.
    std::fs::create_dir_all(dir.join("y")).unwrap();
    std::fs::rename(dir.join("x/iris.csv"), dir.join("y/iris.csv")).unwrap();
    let elsewhere = dir.join("y");
    let r = dir.join("r");
    let r = r.to_str().unwrap();
    let o = run(
        &elsewhere,
        &["train", "--resume", r, "--epochs", "4", "--quiet"],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--resume: the run's data file") && e.contains("is gone"),
        "{e}"
    );
    ok(
        &elsewhere,
        &[
            "train", "--resume", r, "--data", "iris.csv", "--hidden", "8", "--lr", "0.001",
            "--epochs", "5", "--quiet",
        ],
    );
    assert_eq!(metrics(&dir.join("r"))["epochs_run"], 5);
    // Changed contents are refused, naming --data.
    let mut text = std::fs::read_to_string(elsewhere.join("iris.csv")).unwrap();
    text = text.replacen("5.1", "5.2", 1);
    std::fs::write(elsewhere.join("iris.csv"), text).unwrap();
    let o = run(
        &elsewhere,
        &[
            "train", "--resume", r, "--data", "iris.csv", "--epochs", "6",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.starts_with("error: --data: ") && e.contains("contents differ"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    // A flag that would change the run is still refused.
    let o = run(&elsewhere, &["train", "--resume", r, "--hidden", "9"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--hidden: cannot be changed when resuming")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
