//! `Trainer::with_interrupt`: a flag set from another thread stops the run
//! after the step in progress with `StopReason::Interrupted`, a checkpoint
//! is written (mid-epoch too), and resuming from it ends bit-identically to
//! a run that was never interrupted.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Dropout, Linear, Module, ReLU, Sequential};
use downhill::optim::Adam;
use downhill::schedule::StepLR;
use downhill::train::{
    latest_checkpoint, Callback, Control, DivergencePolicy, EarlyStopping, Schedule, StepInfo,
    StopReason, TrainConfig, Trainer,
};
use downhill::{Generator, Tensor};

use crate::common::scratch;

/// 240 samples of 3 noisy blobs in 8 dimensions (deterministic).
fn blobs() -> TensorDataset {
    let mut g = Generator::new(11);
    let n = 240;
    let noise = Tensor::randn(&[n, 8], &mut g).to_vec_f32();
    let mut x = Vec::with_capacity(n * 8);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % 3;
        for j in 0..8 {
            x.push(noise[i * 8 + j] + if j % 3 == c { 2.0 } else { 0.0 });
        }
        y.push(c);
    }
    TensorDataset::classification(Tensor::from_vec(x, &[n, 8]), y)
}

/// Counts steps (shared with the thread that interrupts) and slows each a
/// little, so the interrupt lands somewhere inside the run.
struct Pace(Arc<AtomicUsize>);

impl Callback for Pace {
    fn on_step_end(&mut self, info: &StepInfo) -> Control {
        self.0.store(info.step, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(3));
        Control::Continue
    }
}

/// Shuffled mini-batches, dropout, a per-epoch schedule, gradient
/// accumulation and the rollback guard: every piece of state a resume needs.
fn trainer(epochs: usize, dir: Option<PathBuf>) -> Trainer {
    let mut g = Generator::new(3);
    let model = Sequential::new()
        .push(Linear::new(8, 32, true, &mut g))
        .push(ReLU)
        .push(Dropout::new(0.2, 5))
        .push(Linear::new(32, 3, true, &mut g));
    let opt = Adam::default()
        .lr(3e-3)
        .build(model.trainable_parameters())
        .unwrap();
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Size(16),
        accumulate: 2,
        monitor: downhill::train::Monitor::new("train_loss"),
        early_stopping: Some(EarlyStopping {
            patience: 1000,
            min_delta: 0.0,
            restore_best: true,
        }),
        divergence: DivergencePolicy::Rollback { max_retries: 3 },
        checkpoint_dir: dir,
        progress: false,
        seed: 9,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    );
    let sched = StepLR::new(t.optimizer_mut(), 3, 0.5);
    t.with_schedule(Schedule::PerEpoch(Box::new(sched)))
}

fn params_bits(t: &Trainer) -> Vec<(String, Vec<u32>)> {
    t.model()
        .state_dict()
        .into_iter()
        .map(|(n, p)| (n, p.to_vec_f32().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

fn history_bits(t: &Trainer) -> Vec<(usize, u64, u64)> {
    t.history()
        .iter()
        .map(|r| (r.step, r.train_loss.to_bits(), r.lr.to_bits()))
        .collect()
}

#[test]
fn an_interrupted_run_resumes_bit_identically() {
    let data = blobs();
    let epochs = 8;
    let mut straight = trainer(epochs, None);
    let full = straight.fit(&data, None).unwrap();
    assert_eq!(full.stopped_because, StopReason::Budget);
    // 240 / 16 = 15 batches, steps of 2 → 8 steps per epoch.
    assert_eq!(full.steps, 8 * epochs);

    for (round, wait_for_step) in [3usize, 20, 41].into_iter().enumerate() {
        let dir = scratch(&format!("resume-{round}"));
        let flag = Arc::new(AtomicBool::new(false));
        let steps = Arc::new(AtomicUsize::new(0));
        let setter = {
            let (flag, steps) = (flag.clone(), steps.clone());
            std::thread::spawn(move || {
                while steps.load(Ordering::SeqCst) < wait_for_step {
                    std::thread::sleep(Duration::from_micros(100));
                }
                flag.store(true, Ordering::SeqCst);
            })
        };
        let mut first = trainer(epochs, Some(dir.clone()))
            .with_callback(Box::new(Pace(steps)))
            .with_interrupt(flag.clone());
        let r = first.fit(&data, None).unwrap();
        setter.join().unwrap();
        assert_eq!(r.stopped_because, StopReason::Interrupted, "{}", r.message);
        assert!(
            r.steps >= wait_for_step && r.steps < full.steps,
            "{}",
            r.steps
        );
        let ck = latest_checkpoint(&dir).unwrap();
        assert!(
            r.message.contains(&ck.display().to_string()),
            "{}",
            r.message
        );
        let name = ck.file_name().unwrap().to_string_lossy().into_owned();
        if !r.steps.is_multiple_of(8) {
            // Mid-epoch: the name carries the epoch in progress and the step.
            assert_eq!(
                name,
                format!(
                    "epoch-{:06}-step-{:09}.safetensors",
                    r.steps / 8 + 1,
                    r.steps
                )
            );
        }
        // A fresh trainer (as a new process would build) resumes and finishes.
        let mut second = trainer(epochs, Some(dir.clone()));
        second.resume_from(&ck).unwrap();
        let done = second.fit(&data, None).unwrap();
        assert_eq!(done.stopped_because, StopReason::Budget, "{}", done.message);
        assert_eq!(done.steps, full.steps);
        assert_eq!(
            params_bits(&second),
            params_bits(&straight),
            "round {round}"
        );
        assert_eq!(
            history_bits(&second),
            history_bits(&straight),
            "round {round}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_flag_set_before_training_stops_after_one_step_without_a_checkpoint_dir() {
    let data = blobs();
    let flag = Arc::new(AtomicBool::new(true));
    let mut t = trainer(3, None).with_interrupt(flag.clone());
    let r = t.fit(&data, None).unwrap();
    assert_eq!(
        (r.stopped_because.clone(), r.steps, r.epochs_run),
        (StopReason::Interrupted, 1, 0)
    );
    assert!(r.message.contains("no checkpoint"), "{}", r.message);
    assert_eq!(
        serde_json::to_string(&r.stopped_because).unwrap(),
        "\"interrupted\""
    );
    // Clearing the flag and calling fit again goes on with the same epoch.
    flag.store(false, Ordering::SeqCst);
    let r = t.fit(&data, None).unwrap();
    assert_eq!(
        (r.stopped_because, r.steps, r.epochs_run),
        (StopReason::Budget, 24, 3)
    );
}
