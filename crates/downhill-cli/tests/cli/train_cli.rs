//! `downhill train`, `predict` and `evaluate`, run as a user runs them.

use std::path::PathBuf;

use crate::common;
use common::{metrics, ok, run, scratch};

#[test]
fn default_train_reaches_97_percent_and_writes_the_run_directory() {
    let dir = scratch("default");
    let stdout = ok(&dir, &["train"]);
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        runs.len(),
        1,
        "one run directory, no temporary ones: {runs:?}"
    );
    let r = &runs[0];
    let name = r.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("20") && name.contains('T'),
        "runs/<date-time>: {name}"
    );
    for f in [
        "model.safetensors",
        "model.json",
        "metrics.json",
        "history.csv",
        "loss.png",
        "loss.svg",
    ] {
        assert!(r.join(f).is_file(), "missing {f}");
    }
    assert!(!downhill::train::list_checkpoints(&r.join("checkpoints")).is_empty());
    let m = metrics(r);
    let acc = m["test"]["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.97, "test accuracy {acc}");
    for part in ["train", "val", "test"] {
        for k in ["loss", "accuracy", "f1_macro"] {
            assert!(m[part][k].is_number(), "{part}.{k}");
        }
    }
    assert_eq!(m["stopped_because"], "budget");
    assert_eq!(m["epochs_run"], 100);
    assert!(
        stdout.contains(&format!("test: accuracy {acc:.4}")),
        "{stdout}"
    );
    let png = std::fs::read(r.join("loss.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let history = std::fs::read_to_string(r.join("history.csv")).unwrap();
    assert!(history.starts_with("epoch,step,lr,train_loss,val_accuracy"));
    assert_eq!(history.lines().count(), 101);
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("model.json")).unwrap()).unwrap();
    assert_eq!(spec["class_labels"].as_array().unwrap().len(), 10);
    // Digits' constant pixels (p0, p32, p39: 0 in every image) are dropped.
    let names = spec["feature_names"].as_array().unwrap();
    assert_eq!(names.len(), 61);
    assert_eq!(names[60], "p63");
    assert_eq!(spec["schema"]["scaler"]["kind"], "standard");

    // predict: a label and ten probabilities per row.
    let preds = ok(
        &dir,
        &[
            "predict",
            "--model",
            r.to_str().unwrap(),
            "--data",
            "digits",
        ],
    );
    let mut lines = preds.lines();
    assert_eq!(
        lines.next().unwrap(),
        "prediction,p_0,p_1,p_2,p_3,p_4,p_5,p_6,p_7,p_8,p_9"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1797);
    let p: Vec<f64> = rows[0]
        .split(',')
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4);
    // --out writes a file.
    let out = dir.join("preds.csv");
    ok(
        &dir,
        &[
            "predict",
            "--model",
            r.to_str().unwrap(),
            "--data",
            "digits",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), preds);
    // evaluate: the metrics of metrics.json, on any labelled data.
    let e: serde_json::Value = serde_json::from_str(&ok(
        &dir,
        &[
            "evaluate",
            "--model",
            r.to_str().unwrap(),
            "--data",
            "digits",
        ],
    ))
    .unwrap();
    assert!(e["accuracy"].as_f64().unwrap() > 0.97);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn regression_on_diabetes_reports_rmse_mae_and_r2_in_target_units() {
    let dir = scratch("regression");
    let stdout = ok(
        &dir,
        &[
            "train",
            "--data",
            "diabetes",
            "--epochs",
            "30",
            "--out",
            "r",
            "--early-stopping",
            "5",
        ],
    );
    assert!(stdout.contains("regression (inferred"), "{stdout}");
    let m = metrics(&dir.join("r"));
    let r2 = m["test"]["r2"].as_f64().unwrap();
    let rmse = m["test"]["rmse"].as_f64().unwrap();
    assert!(
        r2 > 0.3 && rmse > 30.0 && rmse < 80.0,
        "r2 {r2}, rmse {rmse} (target units, 25..346)"
    );
    assert!(m["test"]["mae"].is_number());
    let preds = ok(&dir, &["predict", "--model", "r", "--data", "diabetes"]);
    assert!(preds.starts_with("progression\n"));
    let first: f64 = preds.lines().nth(1).unwrap().parse().unwrap();
    assert!((25.0..350.0).contains(&first), "{first}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn config_file_sets_values_and_flags_override_it() {
    let dir = scratch("config");
    std::fs::write(
        dir.join("run.toml"),
        "data = \"iris\"\nhidden = [16, 8]\nepochs = 7\nbatch-size = \"full\"\noptimizer = \"SGD\"\nlr = 0.1\n[opt]\nmomentum = 0.9\nnesterov = true\n",
    )
    .unwrap();
    ok(
        &dir,
        &[
            "train", "--config", "run.toml", "--epochs", "4", "--out", "r", "--quiet",
        ],
    );
    let m = metrics(&dir.join("r"));
    assert_eq!(m["epochs_run"], 4, "the flag overrides the file");
    assert_eq!(m["steps"], 4, "full batch: one step per epoch");
    let spec = std::fs::read_to_string(dir.join("r/model.json")).unwrap();
    assert!(
        spec.contains("\"hidden\": [\n      16,\n      8\n    ]"),
        "{spec}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_continues_bit_identically() {
    let dir = scratch("resume");
    let common = [
        "--data",
        "iris",
        "--hidden",
        "16",
        "--dropout",
        "0.1",
        "--schedule",
        "StepLR",
        "--sched",
        "step_size=2",
        "--quiet",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        common.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let straight = with(&["--epochs", "6", "--out", "a"]);
    let mut args = vec!["train"];
    args.extend(straight.iter().map(String::as_str));
    ok(&dir, &args);
    let first = with(&["--epochs", "3", "--out", "b"]);
    let mut args = vec!["train"];
    args.extend(first.iter().map(String::as_str));
    ok(&dir, &args);
    ok(
        &dir,
        &[
            "train", "--resume", "b", "--epochs", "6", "--out", "c", "--quiet",
        ],
    );
    let a = std::fs::read(dir.join("a/model.safetensors")).unwrap();
    let c = std::fs::read(dir.join("c/model.safetensors")).unwrap();
    assert_eq!(a, c, "3 epochs + resume + 3 epochs = 6 epochs, bit for bit");
    let ha = std::fs::read_to_string(dir.join("a/history.csv")).unwrap();
    let hc = std::fs::read_to_string(dir.join("c/history.csv")).unwrap();
    let strip = |h: &str| {
        h.lines()
            .map(|l| l.rsplit_once(',').unwrap().0.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(&ha),
        strip(&hc),
        "same history apart from the seconds column"
    );
    // Flags that would change the run are refused.
    let o = run(
        &dir,
        &["train", "--resume", "b", "--lr", "0.5", "--out", "d"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--lr: cannot be changed when resuming"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_same_seed_gives_the_same_model_and_threads_can_be_set() {
    let dir = scratch("seed");
    for (out, threads) in [("a", "1"), ("b", "1"), ("c", "2")] {
        ok(
            &dir,
            &[
                "train",
                "--data",
                "iris",
                "--epochs",
                "5",
                "--seed",
                "9",
                "--threads",
                threads,
                "--out",
                out,
                "--quiet",
            ],
        );
    }
    let read = |d: &str| std::fs::read(dir.join(d).join("model.safetensors")).unwrap();
    assert_eq!(read("a"), read("b"));
    assert_eq!(
        read("a"),
        read("c"),
        "small models do not depend on the thread count"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn npy_and_npz_files_train() {
    let dir = scratch("npy");
    // y = 2·x0 − x1 + noise-free, as a 2-D array with the target last.
    let mut data = vec![];
    for i in 0..200 {
        let (a, b) = ((i % 17) as f64 / 8.0, (i % 11) as f64 / 5.0);
        data.extend([a, b, 2.0 * a - b]);
    }
    downhill::data::write_npy(&dir.join("table.npy"), &[200, 3], &data).unwrap();
    ok(
        &dir,
        &[
            "train",
            "--data",
            "table.npy",
            "--task",
            "regression",
            "--epochs",
            "60",
            "--out",
            "r",
            "--quiet",
        ],
    );
    let m = metrics(&dir.join("r"));
    assert!(m["test"]["r2"].as_f64().unwrap() > 0.95, "{m}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn divergence_is_reported_with_a_smaller_learning_rate() {
    let dir = scratch("diverge");
    let o = run(
        &dir,
        &[
            "train",
            "--optimizer",
            "SGD",
            "--lr",
            "1e6",
            "--on-divergence",
            "stop",
            "--out",
            "r",
            "--quiet",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("stopped (divergence)") && stdout.contains("is too large: try 1e5"),
        "{stdout}"
    );
    assert_eq!(metrics(&dir.join("r"))["stopped_because"], "divergence");
    // The default policy rolls back and halves the learning rate instead.
    let o = run(
        &dir,
        &[
            "train",
            "--optimizer",
            "SGD",
            "--lr",
            "20",
            "--epochs",
            "20",
            "--out",
            "s",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = metrics(&dir.join("s"));
    assert!(m["test"]["accuracy"].as_f64().unwrap() > 0.9, "{m}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn regression_logs_metrics_in_the_target_units_everywhere() {
    let dir = scratch("units");
    let stdout = ok(
        &dir,
        &[
            "train", "--data", "diabetes", "--epochs", "5", "--out", "r", "--quiet",
        ],
    );
    assert!(
        stdout.contains("saved r/"),
        "--quiet keeps the summary: {stdout}"
    );
    assert!(stdout.contains("test: rmse"), "{stdout}");
    let h = std::fs::read_to_string(dir.join("r/history.csv")).unwrap();
    let mut lines = h.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(header.contains(&"train_loss_scaled"), "{header:?}");
    assert!(header.contains(&"val_loss_scaled"), "{header:?}");
    let col = header.iter().position(|c| *c == "val_rmse").unwrap();
    let last: Vec<&str> = lines.last().unwrap().split(',').collect();
    let logged: f64 = last[col].parse().unwrap();
    let m = metrics(&dir.join("r"));
    let summary = m["val"]["rmse"].as_f64().unwrap();
    assert!(
        summary > 10.0,
        "diabetes RMSE is tens of units, got {summary}"
    );
    assert!(
        (logged - summary).abs() <= 1e-6 * summary,
        "history.csv {logged} vs metrics.json {summary}: the same units"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_validation_or_test_split_trains_on_every_row() {
    let dir = scratch("nosplit");
    let stdout = ok(
        &dir,
        &[
            "train",
            "--data",
            "iris",
            "--val-split",
            "0",
            "--test-split",
            "0",
            "--epochs",
            "3",
            "--out",
            "r",
        ],
    );
    assert!(
        stdout.contains("150 train / 0 validation / 0 test"),
        "{stdout}"
    );
    let m = metrics(&dir.join("r"));
    assert!(m["train"]["accuracy"].is_number(), "{m}");
    assert!(m.get("val").is_none() && m.get("test").is_none(), "{m}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[cfg(not(feature = "mpi"))] // built with MPI it joins the job instead (tests/mpi_cli.rs)
fn a_build_without_mpi_refuses_to_run_under_mpirun() {
    let dir = scratch("mpirun");
    for var in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
        let o = std::process::Command::new(common::bin())
            .current_dir(&dir)
            .env(var, "2")
            .args(["train", "--data", "iris", "--epochs", "1", "--out", "r"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(
            e.contains("one of 2 processes") && e.contains("without mpirun"),
            "{e}"
        );
        assert!(!dir.join("r").exists());
    }
    // One process under mpirun is one process.
    let o = std::process::Command::new(common::bin())
        .current_dir(&dir)
        .env("OMPI_COMM_WORLD_SIZE", "1")
        .args([
            "train", "--data", "iris", "--epochs", "1", "--out", "r", "--quiet",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lbfgs_trains_from_the_command_line() {
    let dir = scratch("lbfgs");
    ok(
        &dir,
        &[
            "train",
            "--data",
            "iris",
            "--optimizer",
            "LBFGS",
            "--lr",
            "1",
            "--batch-size",
            "full",
            "--epochs",
            "10",
            "--out",
            "r",
            "--quiet",
        ],
    );
    let m = metrics(&dir.join("r"));
    let acc = m["test"]["accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "full-batch LBFGS: test accuracy {acc}");
    std::fs::remove_dir_all(&dir).unwrap();
}
