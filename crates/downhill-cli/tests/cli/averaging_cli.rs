//! `downhill train --swa …` and `--ema …`: bad settings are refused with
//! one line naming the flag and exit code 2; a run saves the trainer's
//! averaged weights as model.safetensors (equal, bit for bit, to the
//! `averaged.*` tensors of its last checkpoint) and says so; a run resumed
//! mid-way ends with the same model as a straight one.

use crate::common;

use std::path::Path;

use common::{ok, run, scratch};
use downhill::train::Checkpoint;

fn train(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "train",
        "--data",
        "iris",
        "--hidden",
        "8",
        "--lr",
        "0.05",
        "--optimizer",
        "SGD",
        "--no-tensorboard",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn bad_averaging_settings_are_refused_naming_the_flag() {
    let dir = scratch("bad");
    for (extra, expect) in [
        (&["--swa", "lr=0.1"][..], "--swa: start is required"),
        (&["--swa", "start=x"], "--swa: start must be a whole number"),
        (
            &["--swa", "start=1,anneal=step,lr=0.1"],
            "--swa: anneal must be cos or linear",
        ),
        (&["--swa", "start=1,k=2"], "--swa: unknown setting 'k'"),
        (
            &["--swa", "start=9", "--epochs", "5"],
            "--swa: start=9 leaves nothing to average",
        ),
        (&["--ema", "decay=2"], "--ema: decay must be in [0, 1]"),
        (&["--ema"], "--ema: decay is required"),
        (
            &["--swa", "start=1", "--ema", "decay=0.9"],
            "--ema: cannot be combined with --swa",
        ),
    ] {
        let a = train(extra);
        let o = run(&dir, &args(&a));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(expect), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{extra:?}: one line: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The model file's tensors equal the checkpoint's `averaged.*` ones, bit for bit.
fn model_is_the_average(run_dir: &Path, epochs: usize) {
    let model = downhill::nn::load_tensors(run_dir.join("model.safetensors")).unwrap();
    let ck = Checkpoint::load(&run_dir.join(format!("checkpoints/epoch-{epochs:06}.safetensors")))
        .unwrap();
    assert!(!model.is_empty());
    for (name, t) in &model {
        let avg = ck
            .tensors
            .iter()
            .find(|(n, _)| *n == format!("averaged.{name}"))
            .unwrap_or_else(|| panic!("no averaged.{name} in the checkpoint"));
        assert_eq!(t.to_vec_f64(), avg.1.to_vec_f64(), "{name}");
        let trained = ck
            .tensors
            .iter()
            .find(|(n, _)| *n == format!("model.{name}"))
            .unwrap();
        assert_ne!(
            t.to_vec_f64(),
            trained.1.to_vec_f64(),
            "{name}: the average is not the last weights"
        );
    }
}

#[test]
fn swa_and_ema_runs_save_the_averaged_weights_and_say_so() {
    let dir = scratch("save");
    let a = train(&[
        "--epochs",
        "6",
        "--swa",
        "start=3,lr=0.02,anneal_epochs=2",
        "--out",
        "swa",
        "--quiet",
    ]);
    let out = ok(&dir, &args(&a));
    assert!(
        out.contains("model.safetensors holds the SWA average of 3 epochs' weights"),
        "{out}"
    );
    model_is_the_average(&dir.join("swa"), 6);
    let a = train(&[
        "--epochs",
        "3",
        "--ema",
        "decay=0.9",
        "--out",
        "ema",
        "--quiet",
    ]);
    let out = ok(&dir, &args(&a));
    assert!(
        out.contains("model.safetensors holds the EMA (decay 0.9) of the weights"),
        "{out}"
    );
    model_is_the_average(&dir.join("ema"), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_swa_run_resumed_mid_way_ends_with_the_same_model() {
    let dir = scratch("resume");
    let swa = [
        "--swa",
        "start=2,lr=0.01,anneal=linear,anneal_epochs=3",
        "--quiet",
    ];
    let mut straight = swa.to_vec();
    straight.extend(["--epochs", "6", "--out", "a"]);
    ok(&dir, &args(&train(&straight)));
    let mut first = swa.to_vec();
    first.extend(["--epochs", "3", "--out", "b"]);
    ok(&dir, &args(&train(&first)));
    ok(
        &dir,
        &[
            "train", "--resume", "b", "--epochs", "6", "--out", "c", "--quiet",
        ],
    );
    let a = std::fs::read(dir.join("a/model.safetensors")).unwrap();
    let c = std::fs::read(dir.join("c/model.safetensors")).unwrap();
    assert_eq!(
        a, c,
        "3 epochs + resume + 3 epochs = 6 epochs of SWA, bit for bit"
    );
    // Changing the averaging on resume is refused.
    let o = run(
        &dir,
        &["train", "--resume", "b", "--ema", "decay=0.5", "--out", "d"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--ema: cannot be changed when resuming"));
    std::fs::remove_dir_all(&dir).unwrap();
}
