//! The divergence guard's rollback: the state it returns to is the epoch
//! checkpoint already on disk when there is one (no copy in memory), else a
//! copy of the tensors; both give the same run, bit for bit.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::Adam;
use downhill::train::{
    Callback, DivergencePolicy, EarlyStopping, GradientInfo, StopReason, TrainConfig, Trainer,
};
use downhill::{DType, Generator, Tensor};

use crate::common::scratch;

/// 120 samples of 3 blobs in 4 dimensions (deterministic).
fn blobs() -> TensorDataset {
    let mut g = Generator::new(5);
    let n = 120;
    let noise = Tensor::randn(&[n, 4], &mut g).to_vec_f32();
    let x: Vec<f32> = (0..n * 4)
        .map(|k| noise[k] + if k % 4 == (k / 4) % 3 { 2.0 } else { 0.0 })
        .collect();
    let y = (0..n).map(|i| i % 3).collect();
    TensorDataset::classification(Tensor::from_vec(x, &[n, 4]), y)
}

/// Writes a NaN into a gradient once, at step `at`: the step makes the
/// weights NaN, the next loss is NaN, and the guard rolls back.
struct PoisonOnce {
    at: usize,
    done: Arc<AtomicBool>,
}

impl Callback for PoisonOnce {
    fn on_gradients(&mut self, info: &GradientInfo) {
        if info.step == self.at && !self.done.swap(true, Ordering::SeqCst) {
            // Every gradient: one NaN in a first-layer weight alone can be
            // swallowed by a ReLU, and the order of `iter` follows addresses.
            for (_, g) in info.grads.iter() {
                assert_eq!(g.dtype(), DType::F32);
                g.update_::<f32, _>(|v| v.fill(f32::NAN));
            }
        }
    }
}

fn trainer(dir: Option<PathBuf>, done: Arc<AtomicBool>) -> Trainer {
    let mut g = Generator::new(2);
    let model = Sequential::new()
        .push(Linear::new(4, 16, true, &mut g))
        .push(ReLU)
        .push(Linear::new(16, 3, true, &mut g));
    let opt = Adam::default()
        .lr(1e-2)
        .build(model.trainable_parameters())
        .unwrap();
    let config = TrainConfig {
        epochs: 4,
        batch_size: BatchSize::Size(20),
        monitor: downhill::train::Monitor::new("train_loss"),
        early_stopping: Some(EarlyStopping {
            patience: 1000,
            min_delta: 0.0,
            restore_best: true,
        }),
        divergence: DivergencePolicy::Rollback { max_retries: 2 },
        checkpoint_dir: dir,
        checkpoint_every: 1,
        progress: false,
        seed: 4,
        ..TrainConfig::default()
    };
    Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    )
    // 120 / 20 = 6 steps per epoch: step 9 is in epoch 2, after epoch 1's
    // checkpoint was written.
    .with_callback(Box::new(PoisonOnce { at: 9, done }))
}

fn bits(t: &Trainer) -> Vec<(String, Vec<u32>)> {
    t.model()
        .state_dict()
        .into_iter()
        .map(|(n, p)| (n, p.to_vec_f32().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

#[test]
fn rolling_back_from_the_file_on_disk_equals_rolling_back_from_memory() {
    let data = blobs();
    let dir = scratch("file");
    let (done_f, done_m) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let mut from_file = trainer(Some(dir.clone()), done_f.clone());
    let rf = from_file.fit(&data, None).unwrap();
    let mut from_memory = trainer(None, done_m.clone());
    let rm = from_memory.fit(&data, None).unwrap();
    assert!(done_f.load(Ordering::SeqCst) && done_m.load(Ordering::SeqCst));
    assert_eq!(rf.stopped_because, StopReason::Budget, "{}", rf.message);
    assert_eq!(rm.stopped_because, StopReason::Budget, "{}", rm.message);
    // Epoch 2 ran twice: 4 epochs of 6 steps, plus the step that poisoned it.
    assert_eq!((rf.epochs_run, rf.steps), (4, 24));
    assert_eq!(rf.steps, rm.steps);
    // The rollback halved the learning rate (1e-2 → 5e-3) from epoch 2 on.
    let lrs: Vec<f64> = rf.history.iter().map(|r| r.lr).collect();
    let lrs_m: Vec<f64> = rm.history.iter().map(|r| r.lr).collect();
    assert_eq!(lrs, lrs_m, "{} | {}", rf.message, rm.message);
    assert_eq!(lrs, [1e-2, 5e-3, 5e-3, 5e-3]);
    let hist = |r: &downhill::train::Report| -> Vec<(usize, u64)> {
        r.history
            .iter()
            .map(|h| (h.step, h.train_loss.to_bits()))
            .collect()
    };
    assert_eq!(hist(&rf), hist(&rm));
    assert_eq!(bits(&from_file), bits(&from_memory));
    assert!(bits(&from_file)
        .iter()
        .all(|(_, v)| v.iter().all(|b| f32::from_bits(*b).is_finite())));
    std::fs::remove_dir_all(&dir).unwrap();
}
