//! The optimizers past torch.optim through `downhill train`: each by name
//! in `--optimizer`, and the wrappers through `--sam` / `--lookahead`,
//! trains iris to a useful test accuracy; a wrapped schedule-free run
//! resumed from its checkpoint continues bit for bit.

use crate::common;

use std::process::Command;

use common::{ok, scratch, test_accuracy};

#[test]
fn every_new_optimizer_and_wrapper_trains_iris() {
    let dir = scratch("iris");
    let cases: &[&[&str]] = &[
        &["--optimizer", "AdamWScheduleFree", "--lr", "0.01"],
        &["--optimizer", "SGDScheduleFree", "--lr", "0.1"],
        &["--optimizer", "Prodigy"],
        &[
            "--optimizer",
            "DAdaptAdam",
            "--opt",
            "use_bias_correction=true",
        ],
        &["--optimizer", "DAdaptSGD"],
        &[
            "--optimizer",
            "SGD",
            "--lr",
            "0.05",
            "--momentum",
            "0.9",
            "--sam",
            "rho=0.05",
        ],
        &[
            "--optimizer",
            "Adam",
            "--lr",
            "0.01",
            "--sam",
            "rho=0.5,adaptive=true,use_gc=true",
        ],
        &[
            "--optimizer",
            "SGD",
            "--lr",
            "0.05",
            "--momentum",
            "0.9",
            "--lookahead",
            "k=5,alpha=0.5,pullback_momentum=pullback",
        ],
        &[
            "--optimizer",
            "SGDScheduleFree",
            "--lr",
            "0.1",
            "--sam",
            "--lookahead",
            "k=3",
        ],
    ];
    let mut failures = Vec::new();
    for (i, extra) in cases.iter().enumerate() {
        let out = format!("r{i}");
        let mut args = vec![
            "train", "--data", "iris", "--hidden", "16", "--epochs", "40", "--quiet", "--out",
        ];
        args.push(&out);
        args.extend_from_slice(extra);
        ok(&dir, &args);
        let acc = test_accuracy(&dir.join(&out));
        if acc < 0.85 {
            failures.push(format!("{extra:?}: test accuracy {acc}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_wrapped_schedule_free_run_resumes_bit_identically() {
    let dir = scratch("resume");
    let common = [
        "--data",
        "iris",
        "--hidden",
        "8",
        "--optimizer",
        "SGDScheduleFree",
        "--lr",
        "0.1",
        "--sam",
        "rho=0.1",
        "--lookahead",
        "k=3",
        "--quiet",
    ];
    let train = |extra: &[&str]| {
        let mut args = vec!["train"];
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        ok(&dir, &args);
    };
    train(&["--epochs", "4", "--out", "a"]);
    train(&["--epochs", "2", "--out", "b"]);
    ok(
        &dir,
        &[
            "train", "--resume", "b", "--epochs", "4", "--out", "c", "--quiet",
        ],
    );
    let a = std::fs::read(dir.join("a/model.safetensors")).unwrap();
    let c = std::fs::read(dir.join("c/model.safetensors")).unwrap();
    assert_eq!(a, c, "2 epochs + resume + 2 epochs = 4 epochs, bit for bit");
    // A wrapper that would change the run is refused beside --resume.
    let o = Command::new(env!("CARGO_BIN_EXE_downhill"))
        .current_dir(&dir)
        .args([
            "train", "--resume", "b", "--epochs", "4", "--out", "d", "--sam", "rho=0.2",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrapper_flags_are_checked() {
    let dir = scratch("bad");
    for (flags, expect) in [
        (
            &["--sam", "rho=-1"][..],
            "--sam: rho: must be a finite number ≥ 0",
        ),
        (
            &["--lookahead", "k=0"][..],
            "--lookahead: k: must be a whole number ≥ 1",
        ),
        (
            &["--lookahead", "q=1"][..],
            "--lookahead: q: lookahead has no q",
        ),
        (
            &["--lookahead", "pullback_momentum=back"][..],
            "--lookahead: pullback_momentum: expected one of `none`, `reset`, `pullback`, got \"back\"",
        ),
        (
            &["--sam", "--lr", "auto"][..],
            "--sam: cannot be combined with --lr auto",
        ),
    ] {
        let mut args = vec!["train", "--data", "iris", "--epochs", "1", "--quiet"];
        args.extend_from_slice(flags);
        let o = Command::new(env!("CARGO_BIN_EXE_downhill"))
            .current_dir(&dir)
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(expect), "{flags:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
