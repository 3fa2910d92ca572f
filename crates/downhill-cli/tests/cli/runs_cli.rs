//! TensorBoard from the command line: `downhill train` writes
//! `RUN_DIR/tensorboard/` by default (not with `--no-tensorboard`),
//! `downhill minimize --tensorboard DIR` writes its trajectory, and
//! `downhill runs` lists, sorts, exports and plots the runs.

use crate::common;

use std::path::{Path, PathBuf};

use common::{ok, run, scratch};
use downhill::train::tensorboard::proto::{Kind, What};
use downhill::train::tensorboard::{read_event_file, RecordsEnd};
use serde_json::Value;

/// `(tag, step, value)` of every scalar in the one event file in `dir`.
fn scalars(dir: &Path) -> Vec<(String, i64, f32)> {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let (events, end) = read_event_file(&files[0]).unwrap();
    assert_eq!(end, RecordsEnd::Clean);
    let mut out = vec![];
    for e in events {
        if let Some(What::Summary(s)) = e.what {
            for v in s.value {
                if let Some(Kind::SimpleValue(x)) = v.kind {
                    out.push((v.tag, e.step, x));
                }
            }
        }
    }
    out
}

fn train(dir: &Path, out: &str, lr: &str, extra: &[&str]) {
    let mut args = vec![
        "train", "--data", "iris", "--epochs", "6", "--hidden", "8", "--lr", lr, "--quiet",
        "--out", out,
    ];
    args.extend(extra);
    ok(dir, &args);
}

#[test]
fn train_writes_tensorboard_by_default_and_runs_lists_sorts_and_plots() {
    let d = scratch("train");
    train(&d, "runs/fast", "0.05", &["--tensorboard-histograms", "3"]);
    train(&d, "runs/slow", "0.001", &[]);
    train(&d, "runs/off", "0.01", &["--no-tensorboard"]);
    assert!(!d.join("runs/off/tensorboard").exists());
    let s = scalars(&d.join("runs/fast/tensorboard"));
    let epochs: Vec<i64> = s
        .iter()
        .filter(|(t, _, _)| t == "train/loss")
        .map(|x| x.1)
        .collect();
    assert_eq!(epochs, [1, 2, 3, 4, 5, 6]);
    let metrics: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("runs/fast/metrics.json")).unwrap())
            .unwrap();
    let test_acc = s.iter().find(|(t, _, _)| t == "test/accuracy").unwrap();
    assert_eq!(
        (test_acc.1, test_acc.2),
        (6, metrics["test"]["accuracy"].as_f64().unwrap() as f32)
    );
    assert!(s.iter().any(|(t, _, _)| t == "step/loss"));

    // The table: one row per run, sorted by the best validation loss.
    let table = ok(&d, &["runs", "--sort", "val_loss"]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 4, "{table}");
    assert!(rows[0].starts_with("run ") && rows[0].contains("best val"));
    let json: Value =
        serde_json::from_str(&ok(&d, &["runs", "--json", "--sort", "val_loss"])).unwrap();
    let runs = json.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let best: Vec<f64> = runs
        .iter()
        .map(|r| r["best"]["val_loss"]["value"].as_f64().unwrap())
        .collect();
    assert!(best.windows(2).all(|w| w[0] <= w[1]), "{best:?}");
    for (r, row) in runs.iter().zip(&rows[1..]) {
        assert!(row.starts_with(r["run"].as_str().unwrap()), "{row}");
        assert_eq!(r["data"], "iris");
        assert_eq!(r["batch_size"], 32);
        assert_eq!(r["epochs"], 6);
    }
    let lrs: Vec<f64> = runs.iter().map(|r| r["lr"].as_f64().unwrap()).collect();
    let mut sorted = lrs.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(sorted, [0.001, 0.01, 0.05]);
    // Accuracy sorts best (largest) first.
    let json: Value = serde_json::from_str(&ok(
        &d,
        &["runs", "runs", "--json", "--sort", "val_accuracy"],
    ))
    .unwrap();
    let acc: Vec<f64> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["best"]["val_accuracy"]["value"].as_f64().unwrap())
        .collect();
    assert!(acc.windows(2).all(|w| w[0] >= w[1]), "{acc:?}");

    // The plot's legend names what differs: the learning rate.
    ok(&d, &["runs", "--plot", "curves.svg"]);
    let svg = std::fs::read_to_string(d.join("curves.svg")).unwrap();
    for lr in ["lr=0.05", "lr=0.001", "lr=0.01"] {
        assert!(svg.contains(lr), "legend lacks {lr}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn runs_reports_bad_flags_and_directories_in_one_line() {
    let d = scratch("bad");
    for (args, needle) in [
        (vec!["runs", "missing"], "missing: no such directory"),
        (
            vec!["runs", ".", "--sort", "nope"],
            "--sort: unknown column \"nope\"",
        ),
        (
            vec!["runs", ".", "--plot", "x.gif"],
            "--plot: x.gif: expected a .png or .svg",
        ),
        (
            vec!["train", "--tensorboard-histograms", "0", "--data", "iris"],
            "--tensorboard-histograms: must be at least 1",
        ),
    ] {
        let o = run(&d, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn minimize_writes_its_trajectory_for_tensorboard() {
    let d = scratch("minimize");
    ok(
        &d,
        &[
            "minimize",
            "(x - 3)^2 + y^2",
            "--init",
            "x=0,y=1",
            "--lr",
            "0.1",
            "--steps",
            "20",
            "--quiet",
            "--tensorboard",
            "tb",
        ],
    );
    let s = scalars(&d.join("tb"));
    let f: Vec<(i64, f32)> = s
        .iter()
        .filter(|(t, _, _)| t == "f")
        .map(|x| (x.1, x.2))
        .collect();
    assert_eq!(f.len(), 21);
    assert_eq!(f[0], (0, 10.0));
    assert!(f
        .windows(2)
        .all(|w| w[1].1 < w[0].1 && w[1].0 == w[0].0 + 1));
    let x: Vec<f32> = s
        .iter()
        .filter(|(t, _, _)| t == "x/x")
        .map(|x| x.2)
        .collect();
    // Gradient descent on (x-3)²: x_k = 3 - 3·0.8^k.
    assert!(
        (x[20] - (3.0 - 3.0 * 0.8f32.powi(20))).abs() < 1e-5,
        "{}",
        x[20]
    );
    let _ = std::fs::remove_dir_all(&d);
}
