//! TensorBoard event files read back by the real `tensorboard` Python
//! package: every scalar, step, wall-time order, histogram and
//! hyperparameter the trainer's callback wrote, what the HParams plugin
//! lists and how it sorts it, and that its reader takes a cut file up to the
//! last complete record.
//!
//! The Python is `$DOWNHILL_PYTHON` if set, else the first `python3` or
//! `python` on `PATH` that can `import tensorboard`. Without one the tests
//! pass with a note, unless `CI` is set: then they fail
//! (`pip install tensorboard`).

use std::path::{Path, PathBuf};
use std::process::Command;

use downhill::data::{split, BatchSize, Dataset, Scaler, ScalerKind, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::Adam;
use downhill::train::tensorboard::{EventWriter, HParams};
use downhill::train::{
    evaluate, Callback, Control, Report, StepInfo, TensorBoard, TrainConfig, Trainer,
};
use downhill::{Generator, Tensor};
use serde_json::Value;

use crate::common::scratch;

fn can_import(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import tensorboard"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The Python to run the readers with, or `None` (test skipped) outside CI.
fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DOWNHILL_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            can_import(&p),
            "DOWNHILL_PYTHON={} cannot import tensorboard (pip install tensorboard)",
            p.display()
        );
        return Some(p);
    }
    let found = ["python3", "python"]
        .iter()
        .map(PathBuf::from)
        .find(|p| can_import(p));
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but no python3/python on PATH can import tensorboard: \
             pip install tensorboard, or set DOWNHILL_PYTHON"
        );
        eprintln!("note: skipped: no Python with tensorboard (set DOWNHILL_PYTHON)");
    }
    found
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tensorboard")
        .join(name)
}

/// Runs a script and parses its JSON output.
fn run_python(python: &Path, name: &str, args: &[&Path]) -> Value {
    let out = Command::new(python)
        .arg(script(name))
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

/// digits, stratified 70/15/15, standardized on the training rows.
fn digits() -> (TensorDataset, TensorDataset, TensorDataset) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/digits.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut x, mut y) = (vec![], vec![]);
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        x.extend_from_slice(&v[..64]);
        y.push(v[64] as usize);
    }
    let s = split(y.len(), Some(&y), 0.15, 0.15, 0).unwrap();
    Scaler::fit(ScalerKind::Standard, &x, 64, &s.train).transform(&mut x, 64);
    let make = |rows: &[usize]| {
        let xs: Vec<f32> = rows
            .iter()
            .flat_map(|&r| x[r * 64..(r + 1) * 64].iter().map(|&v| v as f32))
            .collect();
        TensorDataset::classification(
            Tensor::from_vec(xs, &[rows.len(), 64]),
            rows.iter().map(|&r| y[r]).collect(),
        )
    };
    (make(&s.train), make(&s.val), make(&s.test))
}

/// Records every step's loss and lr as the trainer reports them.
#[derive(Clone, Default)]
struct Steps(std::sync::Arc<std::sync::Mutex<Vec<(usize, f64, f64)>>>);

impl Callback for Steps {
    fn on_step_end(&mut self, info: &StepInfo) -> Control {
        self.0.lock().unwrap().push((info.step, info.loss, info.lr));
        Control::Continue
    }
}

struct Run {
    report: Report,
    steps: Vec<(usize, f64, f64)>,
    test: downhill::train::Metrics,
    params: Vec<(String, usize)>,
}

/// Trains an MLP on digits with the TensorBoard callback into `dir`.
fn train(dir: &Path, lr: f64, batch: usize, epochs: usize, histograms: Option<usize>) -> Run {
    let (train, val, test) = digits();
    let mut g = Generator::new(7);
    let model = Sequential::new()
        .push(Linear::new(64, 32, true, &mut g))
        .push(ReLU)
        .push(Linear::new(32, 10, true, &mut g));
    let params: Vec<(String, usize)> = model
        .named_parameters()
        .iter()
        .map(|(n, t)| (n.clone(), t.numel()))
        .collect();
    let hp = HParams::new()
        .with("optimizer", "Adam")
        .with("lr", lr)
        .with("batch_size", batch)
        .with("hidden", "32")
        .with("shuffle", true)
        .metric("val/accuracy")
        .metric("val/loss")
        .metric("test/accuracy");
    let mut tb = TensorBoard::new(dir).unwrap().with_hparams(hp);
    if let Some(every) = histograms {
        tb = tb.with_histograms(every, model.named_parameters());
    }
    let opt = Adam::default()
        .lr(lr)
        .build(model.trainable_parameters())
        .unwrap();
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Size(batch),
        progress: false,
        ..TrainConfig::default()
    };
    let steps = Steps::default();
    let mut trainer = Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    )
    .with_callback(Box::new(tb.clone()))
    .with_callback(Box::new(steps.clone()));
    let report = trainer.fit(&train, Some(&val)).unwrap();
    trainer.model_mut().eval();
    let test_metrics = evaluate(trainer.model(), &CrossEntropyLoss::default(), &test);
    tb.log_metrics("test", &test_metrics, report.epochs_run);
    tb.finish().unwrap();
    assert_eq!(train.len(), 1257);
    let steps = steps.0.lock().unwrap().clone();
    Run {
        report,
        steps,
        test: test_metrics,
        params,
    }
}

fn f32_eq(a: &Value, b: f64) -> bool {
    a.as_f64() == Some(b as f32 as f64)
}

/// `[[step, wall_time, value], …]` of a tag.
fn series<'a>(run: &'a Value, tag: &str) -> &'a Vec<Value> {
    run["scalars"][tag].as_array().unwrap_or_else(|| {
        panic!(
            "no scalar {tag}; have {:?}",
            run["scalars"]
                .as_object()
                .map(|o| o.keys().collect::<Vec<_>>())
        )
    })
}

#[test]
fn tensorboard_reads_back_every_scalar_histogram_and_hyperparameter() {
    let Some(py) = python() else { return };
    let root = scratch("readback");
    let run = train(&root.join("adam"), 3e-3, 128, 4, Some(2));
    let out = run_python(&py, "read_events.py", &[&root]);
    let runs = out.as_object().unwrap();
    assert_eq!(runs.keys().collect::<Vec<_>>(), ["adam"]);
    let r = &out["adam"];
    let h = &run.report.history;
    assert_eq!(h.len(), 4);

    // Per step: the loss and lr the trainer reported, at steps 1, 2, …
    let loss = series(r, "step/loss");
    let lr = series(r, "step/lr");
    assert_eq!(loss.len(), run.report.steps);
    assert_eq!(run.steps.len(), run.report.steps);
    for (i, (step, l, rate)) in run.steps.iter().enumerate() {
        assert_eq!(loss[i][0].as_u64(), Some(*step as u64));
        assert!(
            f32_eq(&loss[i][2], *l),
            "step {step}: {} vs {l}",
            loss[i][2]
        );
        assert!(f32_eq(&lr[i][2], *rate));
    }
    // Per epoch: train loss, every validation metric, lr, time, throughput.
    let train_loss = series(r, "train/loss");
    let seconds = series(r, "epoch/seconds");
    let throughput = series(r, "epoch/samples_per_second");
    let mut previous = 0.0;
    for (i, rec) in h.iter().enumerate() {
        assert_eq!(train_loss[i][0].as_u64(), Some(rec.epoch as u64));
        assert!(f32_eq(&train_loss[i][2], rec.train_loss));
        assert!(f32_eq(&series(r, "epoch/lr")[i][2], rec.lr));
        for (k, v) in &rec.val {
            let s = series(r, &format!("val/{k}"));
            assert_eq!(s[i][0].as_u64(), Some(rec.epoch as u64));
            assert!(f32_eq(&s[i][2], *v), "val/{k} epoch {}", rec.epoch);
        }
        let secs = rec.seconds - previous;
        previous = rec.seconds;
        assert!(f32_eq(&seconds[i][2], secs));
        let sps = throughput[i][2].as_f64().unwrap();
        assert!(
            (sps - 1257.0 / secs).abs() <= 1e-3 * sps,
            "{sps} vs {}",
            1257.0 / secs
        );
    }
    assert!(h[0].val.contains_key("accuracy") && h[0].val.contains_key("f1_macro"));
    // At the end: the best monitored value and the test metrics.
    let best = series(r, "best/val_loss");
    assert!(f32_eq(&best[0][2], run.report.best_value.unwrap()));
    for (k, v) in &run.test {
        let s = series(r, &format!("test/{k}"));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0][0].as_u64(), Some(4));
        assert!(f32_eq(&s[0][2], *v));
    }
    // Wall times never go backwards within a series, and each epoch's
    // summary comes after its last step.
    for (tag, s) in r["scalars"].as_object().unwrap() {
        let t: Vec<f64> = s
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[1].as_f64().unwrap())
            .collect();
        assert!(
            t.windows(2).all(|w| w[0] <= w[1]),
            "{tag}: wall times go back"
        );
    }
    for (i, rec) in h.iter().enumerate() {
        let last_step = &loss[rec.step - 1];
        assert!(last_step[1].as_f64() <= train_loss[i][1].as_f64());
    }
    // Histograms of every parameter and gradient at epochs 2 and 4.
    for (name, numel) in &run.params {
        for kind in ["weights", "gradients"] {
            let hs = r["histograms"][format!("{kind}/{name}")]
                .as_array()
                .unwrap_or_else(|| panic!("no histogram {kind}/{name}"));
            let steps: Vec<u64> = hs.iter().map(|x| x["step"].as_u64().unwrap()).collect();
            assert_eq!(steps, [2, 4], "{kind}/{name}");
            for x in hs {
                assert_eq!(x["num"].as_f64(), Some(*numel as f64));
                assert_eq!(x["bucket_total"].as_f64(), Some(*numel as f64));
                assert!(x["min"].as_f64() <= x["max"].as_f64());
            }
        }
    }
    // HParams: the experiment's columns, the run's values, its end.
    let hp = &r["hparams"];
    let start = &hp["_hparams_/session_start_info"]["session_start_info"]["hparams"];
    // (google.protobuf.Value comes back as plain JSON.)
    assert_eq!(start["optimizer"], "Adam");
    assert_eq!(start["lr"].as_f64(), Some(3e-3));
    assert_eq!(start["batch_size"].as_f64(), Some(128.0));
    assert_eq!(start["hidden"], "32");
    assert_eq!(start["shuffle"], true);
    let exp = &hp["_hparams_/experiment"]["experiment"];
    let names: Vec<&str> = exp["hparam_infos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["batch_size", "hidden", "lr", "optimizer", "shuffle"]
    );
    let metrics: Vec<&str> = exp["metric_infos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"]["tag"].as_str().unwrap())
        .collect();
    assert_eq!(metrics, ["val/accuracy", "val/loss", "test/accuracy"]);
    let end = &hp["_hparams_/session_end_info"]["session_end_info"];
    assert_eq!(end["status"], "STATUS_SUCCESS");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn hparams_plugin_lists_three_runs_and_sorts_them_by_a_metric() {
    let Some(py) = python() else { return };
    let root = scratch("hparams");
    let lrs = [1e-2, 1e-4, 1e-3];
    let runs: Vec<Run> = lrs
        .iter()
        .enumerate()
        .map(|(i, &lr)| train(&root.join(format!("run{i}")), lr, 64, 2, None))
        .collect();
    let out = run_python(
        &py,
        "hparams_plugin.py",
        &[&root, Path::new("val/accuracy")],
    );
    let cols: Vec<&str> = out["experiment"]["hparam_infos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["batch_size", "hidden", "lr", "optimizer", "shuffle"]);
    let groups = out["session_groups"]["session_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{groups:?}");
    let mut accuracies = vec![];
    for g in groups {
        let lr = g["hparams"]["lr"].as_f64().unwrap();
        let i = lrs.iter().position(|&l| l == lr).expect("a run's lr");
        assert_eq!(g["name"].as_str(), Some(format!("run{i}").as_str()));
        assert_eq!(g["hparams"]["optimizer"], "Adam");
        assert_eq!(g["hparams"]["batch_size"].as_f64(), Some(64.0));
        let value = |tag: &str| {
            g["metric_values"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["name"]["tag"] == tag)
                .and_then(|m| m["value"].as_f64())
                .unwrap_or_else(|| panic!("no {tag} in {g}"))
        };
        let last = run_last(&runs[i], "accuracy");
        assert_eq!(value("val/accuracy"), last as f32 as f64);
        assert_eq!(
            value("test/accuracy"),
            runs[i].test["accuracy"] as f32 as f64
        );
        accuracies.push(value("val/accuracy"));
        assert_eq!(g["sessions"][0]["status"], "STATUS_SUCCESS");
    }
    assert!(
        accuracies.windows(2).all(|w| w[0] >= w[1]),
        "sorted by val/accuracy, descending: {accuracies:?}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

fn run_last(run: &Run, metric: &str) -> f64 {
    run.report.history.last().unwrap().val[metric]
}

#[test]
fn tensorboard_reads_a_cut_file_up_to_its_last_complete_record() {
    let Some(py) = python() else { return };
    let root = scratch("cut");
    let mut w = EventWriter::create(&root).unwrap();
    for step in 1..=12 {
        w.add_scalar("loss", 1.0 / step as f64, step);
        if step % 4 == 0 {
            w.add_histogram("w", &[0.5, -1.0, step as f64], step);
        }
    }
    w.flush().unwrap();
    let bytes = std::fs::read(w.path()).unwrap();
    // Record boundaries from the lengths in the file itself.
    let mut ends = vec![];
    let mut at = 0;
    while at < bytes.len() {
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        at += len + 16;
        ends.push(at);
    }
    assert_eq!(ends.len(), 1 + 12 + 3);
    let scratch = root.join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let counts = run_python(&py, "truncated.py", &[w.path(), &scratch]);
    let counts = counts.as_array().unwrap();
    assert_eq!(counts.len(), bytes.len() + 1);
    for (n, c) in counts.iter().enumerate() {
        let complete = ends.iter().filter(|&&e| e <= n).count() as u64;
        assert_eq!(c.as_u64(), Some(complete), "file cut at byte {n}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
