//! Data-parallel training under `mpirun` (cargo feature `mpi`): each test
//! starts this binary under `mpirun --oversubscribe -np N`; every rank
//! trains with [`Trainer::with_communicator`] and writes what it ended with
//! (weights, report, the samples it trained on) to a directory, which the
//! test compares with a single-process run of the same global batch, seed
//! and data.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use downhill::data::{Batch, BatchSize, Dataset, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Linear, Module, ReLU, Sequential, Visitor};
use downhill::optim::Adam;
use downhill::schedule::{PlateauMode, ReduceLROnPlateau};
use downhill::train::{
    Communicator, DivergencePolicy, EarlyStopping, Monitor, MpiCommunicator, Report, Schedule,
    SingleProcess, TrainConfig, Trainer,
};
use downhill::{Generator, Tensor};

const TRAIN: usize = 300;
const VAL: usize = 61;

/// Three classes from 8 features (a fixed random linear rule plus noise).
fn dataset(n: usize, seed: u64) -> TensorDataset {
    let mut g = Generator::new(seed);
    let x = Tensor::randn(&[n, 8], &mut g);
    let xs = x.to_vec_f32();
    let classes = xs
        .chunks(8)
        .map(|r| {
            let s = r[0] - 0.5 * r[3] + 0.3 * r[5];
            if s < -0.4 {
                0
            } else if s < 0.4 {
                1
            } else {
                2
            }
        })
        .collect();
    TensorDataset::classification(x, classes)
}

/// Records the sample indices of every batch it hands out (but for
/// one-sample peeks: the trainer's memory check looks at one sample).
struct Recording {
    inner: TensorDataset,
    seen: Mutex<Vec<usize>>,
}

impl Dataset for Recording {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn batch(&self, indices: &[usize]) -> Batch {
        if indices.len() > 1 {
            self.seen.lock().unwrap().extend_from_slice(indices);
        }
        self.inner.batch(indices)
    }
}

/// The MLP, with a gradient poison: on forward call number `poison_at`
/// (counted from 1) it adds `sqrt(0·w)`, which is 0 but whose gradient is
/// 0·∞ = NaN.
struct Net {
    mlp: Sequential,
    calls: AtomicUsize,
    poison_at: usize,
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Tensor {
        let y = self.mlp.forward(x);
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 != self.poison_at {
            return y;
        }
        let w = self.mlp.trainable_parameters()[0].clone();
        &y + &w.mul_scalar(0.0).sqrt().sum()
    }
    fn visit(&self, v: &mut dyn Visitor) {
        self.mlp.visit(v);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    /// 4 epochs of Adam, clipping, ReduceLROnPlateau, validation.
    Equal,
    /// A NaN gradient on rank 1 (the last rank) at its 5th forward pass.
    Nan,
    /// Early stopping with a patience that ends the run early.
    Early,
}

impl Scenario {
    fn from_name(s: &str) -> Self {
        match s {
            "equal" => Scenario::Equal,
            "nan" => Scenario::Nan,
            _ => Scenario::Early,
        }
    }
}

/// Trains the scenario over `comm`; writes nothing but what the config
/// asks for (into `out`, per rank, so that a rank writing would show).
fn train(
    scenario: Scenario,
    comm: Arc<dyn Communicator>,
    out: &Path,
) -> (Trainer, Report, Vec<usize>) {
    let rank = comm.rank();
    let mut g = Generator::new(7);
    let mlp = Sequential::new()
        .push(Linear::new(8, 16, true, &mut g))
        .push(ReLU)
        .push(Linear::new(16, 3, true, &mut g));
    let poison_at = if scenario == Scenario::Nan && rank + 1 == comm.size() {
        5
    } else {
        0
    };
    if rank > 0 {
        // Different initial weights on other ranks: the broadcast must fix them.
        for p in mlp.trainable_parameters() {
            p.assign_(&p.mul_scalar(3.0));
        }
    }
    let model = Net {
        mlp,
        calls: AtomicUsize::new(0),
        poison_at,
    };
    let opt = Adam::default()
        .lr(0.01)
        .build(model.trainable_parameters())
        .unwrap();
    let (epochs, early, monitor) = match scenario {
        Scenario::Early => (
            30,
            Some(EarlyStopping {
                min_delta: 0.02,
                ..EarlyStopping::new(2)
            }),
            "val_loss",
        ),
        _ => (4, None, "val_accuracy"),
    };
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Size(32),
        seed: 11,
        clip_norm: Some(1.0),
        monitor: Monitor::new(monitor),
        early_stopping: early,
        divergence: DivergencePolicy::Rollback { max_retries: 2 },
        checkpoint_dir: Some(out.join(format!("checkpoints-{rank}"))),
        history_csv: Some(out.join(format!("history-{rank}.csv"))),
        progress: false,
        ..TrainConfig::default()
    };
    let plateau = ReduceLROnPlateau::new(&opt)
        .mode(PlateauMode::Max)
        .patience(0);
    let mut t = Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    )
    .with_communicator(comm);
    if scenario == Scenario::Equal {
        t = t.with_schedule(Schedule::Plateau(plateau));
    }
    let data = Recording {
        inner: dataset(TRAIN, 1),
        seen: Mutex::new(vec![]),
    };
    let val = dataset(VAL, 2);
    let report = t.fit(&data, Some(&val)).unwrap();
    let seen = data.seen.into_inner().unwrap();
    (t, report, seen)
}

fn weights(t: &Trainer) -> Vec<f32> {
    t.model()
        .state_dict()
        .iter()
        .flat_map(|(_, p)| p.to_vec_f32())
        .collect()
}

/// What a rank ended with, as one JSON value.
fn outcome(t: &Trainer, r: &Report, seen: &[usize]) -> serde_json::Value {
    serde_json::json!({
        "weights": weights(t),
        "report": r,
        "lr": t.optimizer().lr(0),
        "seen": seen,
    })
}

fn child() {
    let c = MpiCommunicator::init().expect("MPI initializes");
    let out = PathBuf::from(std::env::var("DOWNHILL_MPI_OUT").unwrap());
    let scenario = Scenario::from_name(&std::env::var("DOWNHILL_MPI_SCENARIO").unwrap());
    let rank = c.rank();
    let (t, report, seen) = train(scenario, Arc::new(c), &out);
    let v = outcome(&t, &report, &seen);
    std::fs::write(out.join(format!("rank-{rank}.json")), v.to_string()).unwrap();
    downhill::nn::save_safetensors(t.model(), out.join(format!("model-{rank}.safetensors")))
        .unwrap();
}

/// Runs the scenario under `mpirun -np n`; returns every rank's outcome.
fn launch(n: usize, scenario: &str, out: &Path) -> Vec<serde_json::Value> {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("mpirun")
        .args(["--oversubscribe", "-np", &n.to_string()])
        .args(["-x", "DOWNHILL_MPI_CHILD=1", "-x", "DOWNHILL_MPI_OUT"])
        .args(["-x", "DOWNHILL_MPI_SCENARIO", "-x", "RAYON_NUM_THREADS=1"])
        .arg(&exe)
        .args(["--exact", "child_entry_point", "--test-threads", "1"])
        .env("DOWNHILL_MPI_OUT", out)
        .env("DOWNHILL_MPI_SCENARIO", scenario)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("mpirun runs (apt-get install openmpi-bin libopenmpi-dev)");
    assert!(
        status.status.success(),
        "mpirun -np {n} failed:\n{}\n{}",
        String::from_utf8_lossy(&status.stdout),
        String::from_utf8_lossy(&status.stderr)
    );
    (0..n)
        .map(|r| {
            let s = std::fs::read_to_string(out.join(format!("rank-{r}.json"))).unwrap();
            serde_json::from_str(&s).unwrap()
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("downhill-mpi-train-{name}-{}", std::process::id()))
}

fn one_process(scenario: Scenario, name: &str) -> serde_json::Value {
    let dir = scratch(name);
    std::fs::create_dir_all(&dir).unwrap();
    let (t, r, seen) = train(scenario, Arc::new(SingleProcess), &dir);
    let _ = std::fs::remove_dir_all(&dir);
    outcome(&t, &r, &seen)
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A report without its wall-clock times (which differ between ranks).
fn timeless(report: &serde_json::Value) -> serde_json::Value {
    let mut r = report.clone();
    for e in r["history"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("seconds");
    }
    r
}

/// Every rank ended with the same weights and report, bit for bit.
fn assert_ranks_agree(ranks: &[serde_json::Value]) {
    for (r, o) in ranks.iter().enumerate().skip(1) {
        assert_eq!(o["weights"], ranks[0]["weights"], "rank {r}'s weights");
        assert_eq!(
            timeless(&o["report"]),
            timeless(&ranks[0]["report"]),
            "rank {r}'s report"
        );
    }
}

/// Only rank 0 wrote its checkpoints and history.
fn assert_only_rank_0_wrote(out: &Path, n: usize) {
    assert!(out.join("checkpoints-0").is_dir() && out.join("history-0.csv").is_file());
    for r in 1..n {
        assert!(
            !out.join(format!("checkpoints-{r}")).exists(),
            "rank {r} wrote checkpoints"
        );
        assert!(
            !out.join(format!("history-{r}.csv")).exists(),
            "rank {r} wrote a history"
        );
    }
}

#[test]
fn child_entry_point() {
    if std::env::var_os("DOWNHILL_MPI_CHILD").is_some() {
        child();
    }
}

#[test]
fn two_and_three_ranks_train_like_one_process() {
    let one = one_process(Scenario::Equal, "equal-1");
    let w1 = floats(&one["weights"]);
    let scale = w1.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for n in [2, 3] {
        let out = scratch(&format!("equal-{n}"));
        let ranks = launch(n, "equal", &out);
        assert_ranks_agree(&ranks);
        assert_only_rank_0_wrote(&out, n);
        let wn = floats(&ranks[0]["weights"]);
        let worst = w1
            .iter()
            .zip(&wn)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            worst <= 1e-5 * scale,
            "N = {n}: weights differ by {worst:e} (largest weight {scale})"
        );
        let h1 = one["report"]["history"].as_array().unwrap();
        let hn = ranks[0]["report"]["history"].as_array().unwrap();
        assert_eq!(h1.len(), hn.len());
        for (a, b) in h1.iter().zip(hn) {
            let (ta, tb) = (
                a["train_loss"].as_f64().unwrap(),
                b["train_loss"].as_f64().unwrap(),
            );
            assert!((ta - tb).abs() < 5e-5, "N = {n}: train_loss {ta} vs {tb}");
            for (k, va) in a["val"].as_object().unwrap() {
                let (va, vb) = (va.as_f64().unwrap(), b["val"][k].as_f64().unwrap());
                assert!((va - vb).abs() < 5e-5, "N = {n}: val_{k} {va} vs {vb}");
            }
        }
        assert_eq!(one["lr"], ranks[0]["lr"], "ReduceLROnPlateau acted alike");
        // The shards: every sample once per epoch, over all ranks (the
        // validation set is handed out by the plain dataset).
        let mut count = vec![0usize; TRAIN];
        for o in &ranks {
            for i in floats(&o["seen"]) {
                count[i as usize] += 1;
            }
        }
        assert!(count.iter().all(|&c| c == 4), "N = {n}: {count:?}");
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn the_same_number_of_ranks_twice_gives_bit_identical_models() {
    let (a, b) = (scratch("twice-a"), scratch("twice-b"));
    launch(3, "equal", &a);
    launch(3, "equal", &b);
    let bytes = |d: &Path| std::fs::read(d.join("model-0.safetensors")).unwrap();
    assert!(bytes(&a) == bytes(&b), "two runs on 3 ranks differ");
    for d in [a, b] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn a_nan_gradient_on_one_rank_rolls_every_rank_back() {
    let out = scratch("nan");
    let ranks = launch(2, "nan", &out);
    assert_ranks_agree(&ranks);
    for o in &ranks {
        let message = o["report"]["message"].as_str().unwrap();
        assert!(
            message.contains("is not finite") && message.contains("rolled back"),
            "{message}"
        );
        assert_eq!(o["lr"].as_f64().unwrap(), 0.005, "the rate was halved once");
        assert_eq!(o["report"]["epochs_run"].as_u64().unwrap(), 4);
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn early_stopping_stops_every_rank_at_the_same_epoch() {
    let one = one_process(Scenario::Early, "early-1");
    let out = scratch("early-3");
    let ranks = launch(3, "early", &out);
    assert_ranks_agree(&ranks);
    assert_only_rank_0_wrote(&out, 3);
    let epochs = ranks[0]["report"]["epochs_run"].as_u64().unwrap();
    assert!(epochs < 30, "stopped early ({epochs} epochs)");
    assert_eq!(ranks[0]["report"]["stopped_because"], "plateau");
    assert_eq!(one["report"]["epochs_run"].as_u64().unwrap(), epochs);
    let _ = std::fs::remove_dir_all(&out);
}
