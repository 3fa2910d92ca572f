//! Schedule-free optimizers through `Trainer`: every validation, the model a
//! run leaves (and so what is saved and evaluated) use the averaged weights
//! x, and training goes on from y: the trainer switches the optimizer to
//! eval mode for the end of each epoch and back to train mode after it.

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::MseLoss;
use downhill::nn::{Linear, Module};
use downhill::optim::{AdamWScheduleFree, Optimizer, SGDScheduleFree};
use downhill::train::{evaluate, Monitor, TrainConfig, Trainer};
use downhill::{Generator, Tensor};

/// y = 2x₀ − x₁ + 1 plus a wiggle, `n` samples.
fn data(n: usize, phase: f64) -> TensorDataset {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let t = i as f64 + phase;
        let (a, b) = (t.sin(), (0.7 * t).cos());
        x.extend([a as f32, b as f32]);
        y.push((2.0 * a - b + 1.0 + 0.1 * (3.0 * t).cos()) as f32);
    }
    TensorDataset::regression(Tensor::from_vec(x, &[n, 2]), &Tensor::from_vec(y, &[n, 1]))
}

fn trainer(opt: fn(Vec<Tensor>) -> Box<dyn Optimizer>, epochs: usize) -> Trainer {
    let model = Linear::new(2, 1, true, &mut Generator::new(3));
    let opt = opt(model.trainable_parameters());
    let config = TrainConfig {
        epochs,
        batch_size: BatchSize::Size(8),
        monitor: Monitor::new("val_loss"),
        progress: false,
        log_every: 0,
        ..TrainConfig::default()
    };
    Trainer::new(Box::new(model), Box::new(MseLoss::default()), opt, config)
}

fn sgd(params: Vec<Tensor>) -> Box<dyn Optimizer> {
    Box::new(SGDScheduleFree::default().lr(0.05).build(params).unwrap())
}

fn adamw(params: Vec<Tensor>) -> Box<dyn Optimizer> {
    Box::new(
        AdamWScheduleFree::default()
            .lr(0.05)
            .warmup_steps(4)
            .build(params)
            .unwrap(),
    )
}

#[test]
fn validation_and_the_final_model_use_the_averaged_weights() {
    for opt in [sgd as fn(Vec<Tensor>) -> Box<dyn Optimizer>, adamw] {
        let (train, val) = (data(48, 0.0), data(16, 100.0));
        let mut t = trainer(opt, 3);
        let report = t.fit(&train, Some(&val)).unwrap();
        let last = report.history.last().unwrap().val["loss"];
        let at_x = evaluate(t.model(), &MseLoss::default(), &val)["loss"];
        assert_eq!(
            last, at_x,
            "the last validation ran on the model's final weights"
        );
        let x = t.model().trainable_parameters()[0].to_vec_f64();
        t.optimizer_mut().train();
        let y = t.model().trainable_parameters()[0].to_vec_f64();
        let at_y = evaluate(t.model(), &MseLoss::default(), &val)["loss"];
        assert_ne!(x, y, "train() moved the weights from x to y");
        assert_ne!(at_x, at_y);
    }
}

#[test]
fn a_second_fit_goes_on_from_the_training_point() {
    let (train, val) = (data(48, 0.0), data(16, 100.0));
    let mut straight = trainer(sgd, 4);
    straight.fit(&train, Some(&val)).unwrap();
    let mut split = trainer(sgd, 2);
    split.fit(&train, Some(&val)).unwrap();
    split.config_mut().epochs = 4;
    split.fit(&train, Some(&val)).unwrap();
    let a = straight.model().trainable_parameters()[0].to_vec_f64();
    let b = split.model().trainable_parameters()[0].to_vec_f64();
    for (a, b) in a.iter().zip(&b) {
        // One more x → y → x round trip than the straight run (in the
        // parameters' float32): rounding only.
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}
