//! `mpirun -np N downhill train ...` (cargo feature `mpi`): data-parallel
//! runs against one process, bit-identical repeats and resumes, rank 0
//! alone writing, and a failing rank ending the job at once.
#![cfg(feature = "mpi")]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{bin, scratch};

/// `mpirun --oversubscribe` with the flags Open MPI needs as root, one
/// thread per rank.
fn mpirun(dir: &Path) -> Command {
    let mut c = Command::new("mpirun");
    c.current_dir(dir)
        .args(["--oversubscribe", "-x", "RAYON_NUM_THREADS=1"])
        .env("RAYON_NUM_THREADS", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    c
}

fn checked(o: Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn train_on(dir: &Path, n: usize, args: &[&str]) -> String {
    let o = mpirun(dir)
        .args(["-np", &n.to_string(), bin(), "train"])
        .args(args)
        .output()
        .expect("mpirun runs (apt-get install openmpi-bin libopenmpi-dev)");
    checked(o, &format!("mpirun -np {n} downhill train {args:?}"))
}

fn train_alone(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(bin())
        .current_dir(dir)
        .env("RAYON_NUM_THREADS", "1")
        .arg("train")
        .args(args)
        .output()
        .unwrap();
    checked(o, &format!("downhill train {args:?}"))
}

const COMMON: [&str; 8] = [
    "--data",
    "digits",
    "--hidden",
    "32",
    "--batch-size",
    "64",
    "--seed",
    "3",
];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    COMMON
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

fn weights(run: &Path) -> Vec<f32> {
    let mut t = downhill::nn::load_tensors(run.join("model.safetensors")).unwrap();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    t.iter().flat_map(|(_, t)| t.to_vec_f32()).collect()
}

fn metric(run: &Path, split: &str, key: &str) -> f64 {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    m[split][key].as_f64().unwrap()
}

/// The entries of `dir`, by name.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn mpirun_trains_like_one_process_and_rank_0_alone_writes() {
    let dir = scratch("equal");
    train_alone(&dir, &args(&["--epochs", "3", "--out", "one", "--quiet"]));
    let stdout = train_on(&dir, 2, &args(&["--epochs", "3", "--out", "two"]));
    assert!(stdout.contains("trained by 2 processes"), "{stdout}");
    assert_eq!(
        stdout.matches("stopped (").count(),
        1,
        "one summary, from rank 0: {stdout}"
    );
    train_on(
        &dir,
        3,
        &args(&["--epochs", "3", "--out", "three", "--quiet"]),
    );
    assert_eq!(entries(&dir), vec!["one", "three", "two"], "no other files");
    let (w1, scale) = {
        let w = weights(&dir.join("one"));
        let s = w.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        (w, s)
    };
    for run in ["two", "three"] {
        let wn = weights(&dir.join(run));
        let worst = w1
            .iter()
            .zip(&wn)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 1e-5 * scale, "{run}: weights differ by {worst:e}");
        for (split, key) in [("val", "accuracy"), ("val", "loss"), ("test", "f1_macro")] {
            let (a, b) = (
                metric(&dir.join("one"), split, key),
                metric(&dir.join(run), split, key),
            );
            assert!((a - b).abs() < 5e-5, "{run}: {split} {key} {a} vs {b}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_same_n_twice_and_a_resume_on_n_are_bit_identical() {
    let dir = scratch("resume");
    train_on(&dir, 2, &args(&["--epochs", "4", "--out", "a", "--quiet"]));
    train_on(&dir, 2, &args(&["--epochs", "4", "--out", "b", "--quiet"]));
    let model = |r: &str| std::fs::read(dir.join(r).join("model.safetensors")).unwrap();
    assert!(model("a") == model("b"), "two runs on 2 ranks differ");
    train_on(&dir, 2, &args(&["--epochs", "2", "--out", "c", "--quiet"]));
    train_on(
        &dir,
        2,
        &["--resume", "c", "--epochs", "4", "--out", "d", "--quiet"],
    );
    assert!(
        model("a") == model("d"),
        "2 epochs + resume + 2 = 4 epochs, bit for bit"
    );
    // Another N resumes too (the batch is global): equal up to rounding.
    train_on(
        &dir,
        3,
        &["--resume", "c", "--epochs", "4", "--out", "e", "--quiet"],
    );
    let (wa, we) = (weights(&dir.join("a")), weights(&dir.join("e")));
    let scale = wa.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let worst = wa
        .iter()
        .zip(&we)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(
        worst <= 1e-5 * scale,
        "resumed on 3: weights differ by {worst:e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failing_rank_ends_mpirun_non_zero_at_once_and_nothing_is_written() {
    let dir = scratch("fail");
    let started = Instant::now();
    // MPMD: rank 0 gets good data, rank 1 a file that does not exist.
    let o = mpirun(&dir)
        .args([
            "-np",
            "1",
            bin(),
            "train",
            "--data",
            "digits",
            "--out",
            "r",
            "--quiet",
        ])
        .args([
            ":",
            "-np",
            "1",
            bin(),
            "train",
            "--data",
            "missing.csv",
            "--out",
            "r",
        ])
        .arg("--quiet")
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(!o.status.success(), "mpirun succeeded");
    assert!(took < Duration::from_secs(30), "took {took:?}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("missing.csv"), "{stderr}");
    assert!(
        stderr.contains("process 1 of 2 failed before training"),
        "{stderr}"
    );
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}
