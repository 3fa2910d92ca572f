//! The training system: loader, split, scaler, trainer, early stopping,
//! divergence guard, checkpoints and bit-identical resume, determinism.

use std::path::{Path, PathBuf};

use downhill::data::{split, BatchSize, DataLoader, Dataset, Scaler, ScalerKind, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Dropout, Linear, Module, ReLU, Sequential};
use downhill::optim::{Adam, Sgd};
use downhill::schedule::StepLR;
use downhill::train::{
    latest_checkpoint, Callback, Checkpoint, Control, DivergencePolicy, EarlyStopping, Monitor,
    Schedule, StepInfo, StopReason, TrainConfig, Trainer,
};
use downhill::{DType, Generator};

use crate::common::scratch;

/// digits.csv → (features row-major, classes).
fn digits_raw() -> (Vec<f64>, Vec<usize>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/digits.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut x, mut y) = (vec![], vec![]);
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        x.extend_from_slice(&v[..64]);
        y.push(v[64] as usize);
    }
    (x, y)
}

/// Stratified 80/10/10 split of digits, standardized on the training rows.
fn digits_sets(seed: u64) -> (TensorDataset, TensorDataset, TensorDataset) {
    let (mut x, y) = digits_raw();
    let s = split(y.len(), Some(&y), 0.1, 0.1, seed).unwrap();
    let scaler = Scaler::fit(ScalerKind::Standard, &x, 64, &s.train);
    scaler.transform(&mut x, 64);
    let make = |rows: &[usize]| {
        let mut xs = Vec::with_capacity(rows.len() * 64);
        for &r in rows {
            xs.extend(x[r * 64..(r + 1) * 64].iter().map(|&v| v as f32));
        }
        TensorDataset::classification(
            downhill::Tensor::from_vec(xs, &[rows.len(), 64]),
            rows.iter().map(|&r| y[r]).collect(),
        )
    };
    (make(&s.train), make(&s.val), make(&s.test))
}

fn mlp(seed: u64, dropout: f64) -> Sequential {
    let mut g = Generator::new(seed);
    let mut m = Sequential::new()
        .push(Linear::new(64, 64, true, &mut g))
        .push(ReLU);
    if dropout > 0.0 {
        m = m.push(Dropout::new(dropout, seed + 1));
    }
    m.push(Linear::new(64, 10, true, &mut g))
}

fn adam_trainer(seed: u64, config: TrainConfig, dropout: f64) -> Trainer {
    let model = mlp(seed, dropout);
    let opt = Adam::default()
        .lr(1e-3)
        .build(model.trainable_parameters())
        .unwrap();
    Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    )
}

fn quiet(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        progress: false,
        ..TrainConfig::default()
    }
}

fn params_bits(t: &Trainer) -> Vec<(String, Vec<u32>)> {
    t.model()
        .state_dict()
        .into_iter()
        .map(|(n, p)| (n, p.to_vec_f32().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn loader_gives_full_batch_stochastic_and_mini_batch() {
    let mut full = DataLoader::new(10, BatchSize::Full, true, false, 1);
    assert_eq!(full.num_batches(), 1);
    assert_eq!(full.epoch().next().unwrap().len(), 10);
    let mut sgd = DataLoader::new(10, BatchSize::Size(1), true, false, 1);
    assert_eq!(sgd.epoch().count(), 10);
    let mut mini = DataLoader::new(10, BatchSize::Size(4), false, true, 1);
    let b: Vec<Vec<usize>> = mini.epoch().map(|b| b.to_vec()).collect();
    assert_eq!(
        b,
        vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]],
        "no shuffle, drop_last"
    );
    // Reshuffled every epoch, and the same seed gives the same orders.
    let mut a = DataLoader::new(100, BatchSize::Size(10), true, false, 9);
    let mut c = DataLoader::new(100, BatchSize::Size(10), true, false, 9);
    let e1: Vec<usize> = a.epoch().flatten().copied().collect();
    let e2: Vec<usize> = a.epoch().flatten().copied().collect();
    assert_ne!(e1, e2);
    assert_eq!(e1, c.epoch().flatten().copied().collect::<Vec<_>>());
    assert!("0".parse::<BatchSize>().is_err());
    assert_eq!("full".parse::<BatchSize>(), Ok(BatchSize::Full));
}

#[test]
fn stratified_split_keeps_class_proportions_and_is_seeded() {
    let (_, y) = digits_raw();
    let s = split(y.len(), Some(&y), 0.1, 0.2, 3).unwrap();
    assert_eq!(s.train.len() + s.val.len() + s.test.len(), y.len());
    let mut all: Vec<usize> = [s.train.clone(), s.val.clone(), s.test.clone()].concat();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), y.len(), "parts are disjoint and cover every row");
    for c in 0..10 {
        let total = y.iter().filter(|&&v| v == c).count() as f64;
        let test = s.test.iter().filter(|&&r| y[r] == c).count() as f64;
        assert!(
            (test / total - 0.2).abs() < 0.01,
            "class {c}: {test}/{total}"
        );
    }
    assert_eq!(s, split(y.len(), Some(&y), 0.1, 0.2, 3).unwrap());
    assert_ne!(s, split(y.len(), Some(&y), 0.1, 0.2, 4).unwrap());
    assert!(split(10, None, 0.5, 0.5, 0).is_err());
}

#[test]
fn scalers_are_fitted_on_the_training_rows_only() {
    let x = vec![0.0, 1.0, 2.0, 3.0, 1000.0];
    let s = Scaler::fit(ScalerKind::MinMax, &x, 1, &[0, 1, 2, 3]);
    let mut y = x.clone();
    s.transform(&mut y, 1);
    assert_eq!(y, vec![0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0, 1000.0 / 3.0]);
    let st = Scaler::fit(ScalerKind::Standard, &[5.0, 5.0, 1.0, 3.0], 2, &[0, 1]);
    // A constant column keeps std 1 (no division by zero).
    assert_eq!(
        st,
        Scaler::Standard {
            mean: vec![3.0, 4.0],
            std: vec![2.0, 1.0]
        }
    );
    let json = serde_json::to_string(&st).unwrap();
    assert_eq!(serde_json::from_str::<Scaler>(&json).unwrap(), st);
}

#[test]
fn trainer_reaches_97_percent_on_digits_and_writes_history() {
    let dir = scratch("digits");
    let (train, val, test) = digits_sets(0);
    let mut config = quiet(40);
    config.history_csv = Some(dir.join("history.csv"));
    config.monitor = Monitor::new("val_accuracy");
    let mut t = adam_trainer(0, config, 0.0);
    let report = t.fit(&train, Some(&val)).unwrap();
    assert_eq!(report.stopped_because, StopReason::Budget);
    assert_eq!(report.epochs_run, 40);
    assert_eq!(report.steps, 40 * train.len().div_ceil(32));
    t.model_mut().eval();
    let m = downhill::train::evaluate(t.model(), &CrossEntropyLoss::default(), &test);
    assert!(m["accuracy"] >= 0.97, "test accuracy {}", m["accuracy"]);
    assert!(m["f1_macro"] > 0.96);
    let csv = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "epoch,step,lr,train_loss,val_accuracy,val_f1_macro,val_loss,val_precision_macro,val_recall_macro,seconds"
    );
    assert_eq!(lines.count(), 40);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn early_stopping_stops_on_a_plateau_and_restores_the_best_weights() {
    let (train, val, _) = digits_sets(1);
    let mut config = quiet(500);
    config.early_stopping = Some(EarlyStopping {
        patience: 3,
        min_delta: 0.0,
        restore_best: true,
    });
    let mut t = adam_trainer(1, config, 0.0);
    let report = t.fit(&train, Some(&val)).unwrap();
    assert_eq!(
        report.stopped_because,
        StopReason::Plateau,
        "{}",
        report.message
    );
    assert!(report.epochs_run < 500);
    assert_eq!(report.epochs_run, report.best_epoch + 3);
    t.model_mut().eval();
    let m = downhill::train::evaluate(t.model(), &CrossEntropyLoss::default(), &val);
    assert_eq!(
        m["loss"],
        report.best_value.unwrap(),
        "best weights restored"
    );
}

fn sgd_trainer(lr: f64, policy: DivergencePolicy) -> Trainer {
    let model = mlp(5, 0.0);
    let opt = Sgd::default()
        .lr(lr)
        .build(model.trainable_parameters())
        .unwrap();
    let mut config = quiet(30);
    config.divergence = policy;
    Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    )
}

#[test]
fn divergence_is_refused_reported_and_recovered_from() {
    let (train, val, test) = digits_sets(2);
    // Stop: the run ends, the bad step never reaches the parameters.
    let mut t = sgd_trainer(50.0, DivergencePolicy::Stop);
    let report = t.fit(&train, Some(&val)).unwrap();
    assert_eq!(report.stopped_because, StopReason::Divergence);
    assert!(
        report.message.contains("too large: try 5e0"),
        "{}",
        report.message
    );
    assert!(t
        .model()
        .parameters()
        .iter()
        .all(|p| p.to_vec_f64().iter().all(|v| v.is_finite())));
    // Rollback: back to the start of the epoch with half the learning rate, until it trains.
    let mut t = sgd_trainer(50.0, DivergencePolicy::Rollback { max_retries: 10 });
    let report = t.fit(&train, Some(&val)).unwrap();
    assert_eq!(
        report.stopped_because,
        StopReason::Budget,
        "{}",
        report.message
    );
    assert!(t.optimizer().lr(0) < 50.0);
    t.model_mut().eval();
    let m = downhill::train::evaluate(t.model(), &CrossEntropyLoss::default(), &test);
    assert!(
        m["accuracy"] > 0.9,
        "recovered run reaches {}",
        m["accuracy"]
    );
}

struct StopAfter(usize);
impl Callback for StopAfter {
    fn on_step_end(&mut self, info: &StepInfo) -> Control {
        if info.step >= self.0 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn callbacks_and_step_budgets_stop_training() {
    let (train, val, _) = digits_sets(3);
    let mut t = adam_trainer(3, quiet(10), 0.0).with_callback(Box::new(StopAfter(7)));
    let r = t.fit(&train, Some(&val)).unwrap();
    assert_eq!((r.stopped_because, r.steps), (StopReason::Callback, 7));
    let mut config = quiet(10);
    config.max_steps = Some(50);
    let r = adam_trainer(3, config, 0.0)
        .fit(&train, Some(&val))
        .unwrap();
    assert_eq!((r.stopped_because, r.steps), (StopReason::Budget, 50));
}

#[test]
fn gradient_accumulation_equals_the_larger_batch() {
    let (full, _, _) = digits_sets(4);
    // 1408 = 22 × 64 rows, so both runs see the same groups of samples.
    let b = full.batch(&(0..1408).collect::<Vec<_>>());
    let downhill::data::Targets::Classes(c) = b.targets else {
        unreachable!()
    };
    let train = TensorDataset::classification(b.inputs, c);
    let run = |batch: usize, accumulate: usize| {
        let mut config = quiet(2);
        config.batch_size = BatchSize::Size(batch);
        config.shuffle = false;
        config.accumulate = accumulate;
        let model = mlp(4, 0.0);
        let opt = Sgd::default()
            .lr(0.1)
            .build(model.trainable_parameters())
            .unwrap();
        let mut t = Trainer::new(
            Box::new(model),
            Box::new(CrossEntropyLoss::default()),
            Box::new(opt),
            config,
        );
        t.fit(&train, None).unwrap();
        t.model()
            .parameters()
            .iter()
            .flat_map(|p| p.to_vec_f64())
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(64, 1), run(16, 4));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-5, "max difference {worst}");
}

fn full_config(epochs: usize, dir: Option<&Path>) -> TrainConfig {
    let mut c = quiet(epochs);
    c.checkpoint_dir = dir.map(Path::to_path_buf);
    c.early_stopping = Some(EarlyStopping {
        patience: 100,
        min_delta: 0.0,
        restore_best: true,
    });
    c
}

fn scheduled_trainer(epochs: usize, dir: Option<&Path>) -> Trainer {
    let mut t = adam_trainer(6, full_config(epochs, dir), 0.2);
    let sched = {
        // Build the schedule against the trainer's optimizer.
        let opt = t_opt(&mut t);
        StepLR::new(opt, 2, 0.5)
    };
    t.with_schedule(Schedule::PerEpoch(Box::new(sched)))
}

fn t_opt(t: &mut Trainer) -> &mut dyn downhill::optim::LrTarget {
    t.optimizer_mut()
}

#[test]
fn resuming_from_a_checkpoint_is_bit_identical() {
    let (train, val, _) = digits_sets(6);
    let n = 3;
    // 2N epochs straight.
    let mut straight = scheduled_trainer(2 * n, None);
    straight.fit(&train, Some(&val)).unwrap();
    // N epochs, checkpoint, a fresh process-like trainer resumes, N more.
    let dir = scratch("resume");
    let mut first = scheduled_trainer(n, Some(&dir));
    first.fit(&train, Some(&val)).unwrap();
    let ck = latest_checkpoint(&dir).unwrap();
    assert!(ck.ends_with("epoch-000003.safetensors"));
    let mut second = scheduled_trainer(2 * n, Some(&dir));
    second.resume_from(&ck).unwrap();
    assert_eq!(second.epoch(), n);
    second.fit(&train, Some(&val)).unwrap();
    assert_eq!(params_bits(&straight), params_bits(&second));
    assert_eq!(straight.history().len(), second.history().len());
    for (a, b) in straight.history().iter().zip(second.history()) {
        assert_eq!(
            (a.train_loss.to_bits(), a.lr),
            (b.train_loss.to_bits(), b.lr)
        );
        assert_eq!(a.val, b.val);
    }
    // A checkpoint of a different model is refused with every mismatch named.
    let other = Sequential::new().push(Linear::new(64, 10, true, &mut Generator::new(0)));
    let opt = Adam::default().build(other.trainable_parameters()).unwrap();
    let mut wrong = Trainer::new(
        Box::new(other),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        quiet(1),
    );
    let ck = latest_checkpoint(&dir).unwrap();
    let err = wrong.resume_from(&ck).unwrap_err().to_string();
    assert!(
        err.contains("0.weight: checkpoint [64, 64] F32, model [10, 64] F32")
            && err.contains("unexpected 3.weight"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_same_seed_gives_bit_identical_parameters() {
    let (train, val, _) = digits_sets(7);
    let run = || {
        let mut t = adam_trainer(7, quiet(3), 0.3);
        t.fit(&train, Some(&val)).unwrap();
        params_bits(&t)
    };
    assert_eq!(run(), run());
}

#[test]
fn checkpoints_keep_the_last_k_and_the_best() {
    let (train, val, _) = digits_sets(8);
    let dir = scratch("keep");
    let mut config = quiet(6);
    config.checkpoint_dir = Some(dir.clone());
    config.keep_last = 2;
    adam_trainer(8, config, 0.0)
        .fit(&train, Some(&val))
        .unwrap();
    let names: Vec<String> = downhill::train::list_checkpoints(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["epoch-000005.safetensors", "epoch-000006.safetensors"]
    );
    assert!(dir.join("best.safetensors").exists());
    let ck = Checkpoint::load(&dir.join("epoch-000006.safetensors")).unwrap();
    assert_eq!(ck.state["run"]["epoch"], 6);
    // No temporary files are left behind.
    let stray = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .count();
    assert_eq!(stray, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tensor_dataset_batches_gather_rows_in_order() {
    let ds = TensorDataset::regression(
        downhill::Tensor::from_vec((0..12).map(|v| v as f64).collect(), &[4, 3]),
        &downhill::Tensor::from_vec(vec![0.0f64, 1.0, 2.0, 3.0], &[4, 1]),
    );
    let b = ds.batch(&[3, 1]);
    assert_eq!(b.inputs.to_vec_f64(), vec![9.0, 10.0, 11.0, 3.0, 4.0, 5.0]);
    assert_eq!(b.inputs.dtype(), DType::F64);
    match b.targets {
        downhill::data::Targets::Values(t) => assert_eq!(t.to_vec_f64(), vec![3.0, 1.0]),
        _ => panic!("values expected"),
    }
}

/// A model whose checkpoints take a while to write (~5 MB), trained on few
/// samples, so most of the time goes to checkpoint writes.
fn heavy_trainer(dir: &Path) -> Trainer {
    let mut g = Generator::new(11);
    let model = Sequential::new()
        .push(Linear::new(64, 600, true, &mut g))
        .push(ReLU)
        .push(Linear::new(600, 600, true, &mut g))
        .push(ReLU)
        .push(Linear::new(600, 10, true, &mut g));
    let opt = Adam::default()
        .lr(1e-4)
        .build(model.trainable_parameters())
        .unwrap();
    let mut config = quiet(1_000_000);
    config.checkpoint_dir = Some(dir.to_path_buf());
    config.keep_last = 2;
    config.batch_size = BatchSize::Full;
    Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    )
}

fn small_digits() -> TensorDataset {
    let (train, _, _) = digits_sets(12);
    let b = train.batch(&(0..64).collect::<Vec<_>>());
    let downhill::data::Targets::Classes(c) = b.targets else {
        unreachable!()
    };
    TensorDataset::classification(b.inputs, c)
}

/// The child side of the SIGKILL test: resumes from the newest checkpoint
/// in the directory (if any) and trains until killed.
#[test]
#[ignore = "run by killing_a_run_during_checkpoint_writes_leaves_a_resumable_checkpoint"]
fn sigkill_child() {
    let Ok(dir) = std::env::var("DOWNHILL_SIGKILL_DIR") else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mut t = heavy_trainer(&dir);
    if let Some(ck) = latest_checkpoint(&dir) {
        t.resume_from(&ck).unwrap();
    }
    t.fit(&small_digits(), None).unwrap();
}

#[test]
fn killing_a_run_during_checkpoint_writes_leaves_a_resumable_checkpoint() {
    let dir = scratch("sigkill");
    let exe = std::env::current_exe().unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut g = Generator::new(seed);
    let mut last_epoch = 0;
    let mut killed_mid_write = 0;
    for round in 0..5 {
        let mut child = std::process::Command::new(&exe)
            .args([
                "--exact",
                "training::sigkill_child",
                "--ignored",
                "--test-threads=1",
            ])
            .env("DOWNHILL_SIGKILL_DIR", &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait for a new checkpoint, then kill at a random moment (most of a
        // child's time is spent writing checkpoints).
        let start = std::time::Instant::now();
        while latest_checkpoint(&dir).is_none_or(|p| checkpoint_epoch(&p) <= last_epoch) {
            assert!(
                start.elapsed().as_secs() < 120,
                "round {round}: no checkpoint appeared"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Catch the next write in progress (its temporary file exists) and
        // kill a random few hundred microseconds into it.
        let start = std::time::Instant::now();
        while !has_temp_file(&dir) && start.elapsed().as_secs() < 20 {
            std::hint::spin_loop();
        }
        std::thread::sleep(std::time::Duration::from_micros(g.below(800)));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        killed_mid_write += has_temp_file(&dir) as usize;
        // Every complete checkpoint loads; the newest resumes.
        let all = downhill::train::list_checkpoints(&dir);
        assert!(!all.is_empty());
        for p in &all {
            Checkpoint::load(p).unwrap_or_else(|e| panic!("round {round} (seed {seed}): {e}"));
        }
        let newest = all.last().unwrap();
        let epoch = checkpoint_epoch(newest);
        assert!(epoch > last_epoch, "training progressed across the kill");
        last_epoch = epoch;
    }
    eprintln!("seed {seed}: {killed_mid_write} of 5 kills left a half-written temporary file");
    // Resume the newest and train a little more in this process.
    let mut t = heavy_trainer(&dir);
    t.resume_from(&latest_checkpoint(&dir).unwrap()).unwrap();
    assert_eq!(t.epoch(), last_epoch);
    t.config_mut().epochs = last_epoch + 2;
    let r = t.fit(&small_digits(), None).unwrap();
    assert_eq!(r.epochs_run, last_epoch + 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn checkpoint_epoch(p: &Path) -> usize {
    let name = p.file_stem().unwrap().to_string_lossy();
    name.trim_start_matches("epoch-").parse().unwrap()
}

fn has_temp_file(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().contains(".tmp-"))
}

#[test]
fn a_format_1_checkpoint_still_resumes_bit_identically() {
    // Written by the code of commit f698bf1 (tests/fixtures/make_v1_checkpoint.sh):
    // `scheduled_trainer(3, dir)` after its 3 epochs, the optimizer state as JSON.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checkpoint_v1_epoch3.safetensors");
    let old = Checkpoint::load(&fixture).unwrap();
    assert_eq!(old.state["format"], "downhill-checkpoint/1");
    let (train, val, _) = digits_sets(6);
    let mut straight = scheduled_trainer(6, None);
    straight.fit(&train, Some(&val)).unwrap();
    let dir = scratch("v1");
    let mut resumed = scheduled_trainer(6, Some(&dir));
    resumed.resume_from(&fixture).unwrap();
    assert_eq!(resumed.epoch(), 3);
    resumed.fit(&train, Some(&val)).unwrap();
    assert_eq!(params_bits(&straight), params_bits(&resumed));
    for (a, b) in straight.history().iter().zip(resumed.history()) {
        assert_eq!(a.train_loss.to_bits(), b.train_loss.to_bits());
        assert_eq!(a.val, b.val);
    }
    // What it writes now is format 2: f32 moments named after their parameter.
    let ck = Checkpoint::load(&latest_checkpoint(&dir).unwrap()).unwrap();
    assert_eq!(ck.state["format"], "downhill-checkpoint/2");
    let (_, m) = ck
        .tensors
        .iter()
        .find(|(n, _)| n == "optim.0.weight.exp_avg_sq")
        .expect("the second moment of 0.weight");
    assert_eq!((m.dtype(), m.shape()), (DType::F32, &[64, 64][..]));
    assert!(ck.tensors.iter().all(|(n, _)| !n.starts_with("__state__")));
    let steps = resumed.history().last().unwrap().step;
    assert_eq!(ck.state["optimizer"]["state"][0][0]["step"], steps);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn format_2_checkpoints_hold_each_tensor_once_in_its_dtype() {
    let (train, val, _) = digits_sets(6);
    let dir = scratch("v2-size");
    let mut t = scheduled_trainer(2, Some(&dir));
    t.fit(&train, Some(&val)).unwrap();
    let path = latest_checkpoint(&dir).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    let param_bytes: usize = t
        .model()
        .state_dict()
        .iter()
        .map(|(_, p)| 4 * p.numel())
        .sum();
    let stored: usize = ck.tensors.iter().map(|(_, p)| 4 * p.numel()).sum();
    assert!(ck.tensors.iter().all(|(_, p)| p.dtype() == DType::F32));
    // model + two Adam moments, plus the best weights unless they are the model's
    let best_is_model = ck.state["best"] == "model";
    let best = ck
        .tensors
        .iter()
        .filter(|(n, _)| n.starts_with("best."))
        .count();
    assert_eq!(best_is_model, best == 0);
    let copies = if best_is_model { 3 } else { 4 };
    assert_eq!(stored, copies * param_bytes);
    let file = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(
        file < stored + 64 * 1024,
        "{file} bytes for {stored} of tensors"
    );
    // Every optimizer tensor is named after a parameter of the model.
    let names: Vec<String> = t.model().state_dict().into_iter().map(|(n, _)| n).collect();
    for (n, _) in ck.tensors.iter().filter(|(n, _)| n.starts_with("optim.")) {
        let (param, slot) = n["optim.".len()..].rsplit_once('.').unwrap();
        assert!(names.iter().any(|m| m == param), "{n}");
        assert!(slot == "exp_avg" || slot == "exp_avg_sq", "{n}");
    }
    // It resumes to the saved model.
    let mut again = scheduled_trainer(2, None);
    again.resume_from(&path).unwrap();
    for (n, p) in again.model().state_dict() {
        let (_, s) = ck
            .tensors
            .iter()
            .find(|(m, _)| *m == format!("model.{n}"))
            .unwrap();
        assert_eq!(p.to_vec_f32(), s.to_vec_f32(), "{n}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
