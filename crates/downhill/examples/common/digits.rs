//! Shared by the digits examples: load data/digits.csv, a stratified seeded
//! 80/20 split, standardization fitted on the training split, mini-batch
//! training with any model, and accuracy. The loader reads the CSV by hand
//! (`downhill::data` has a CSV reader and splits; these examples keep their
//! own stratified split so their published accuracies stay reproducible).

use downhill::loss::CrossEntropyLoss;
use downhill::nn::Module;
use downhill::optim::{Adam, Optimizer};
use downhill::{no_grad, Generator, Tensor};

pub struct Split {
    pub x_train: Vec<f32>,
    pub y_train: Vec<usize>,
    pub x_test: Vec<f32>,
    pub y_test: Vec<usize>,
}

pub const FEATURES: usize = 64;

/// Reads the 1797 digits (64 pixel features, a `digit` label) and splits them
/// 80/20, stratified by class, with the given seed; standardizes with the
/// training split's mean and standard deviation.
pub fn load(seed: u64) -> Split {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/digits.csv");
    let text = std::fs::read_to_string(path).expect("data/digits.csv ships with the repository");
    let mut by_class: Vec<Vec<(Vec<f32>, usize)>> = vec![Vec::new(); 10];
    for line in text.lines().skip(1).filter(|l| !l.is_empty()) {
        let v: Vec<f32> = line
            .split(',')
            .map(|s| s.trim().parse().expect("numeric cell"))
            .collect();
        let y = v[FEATURES] as usize;
        by_class[y].push((v[..FEATURES].to_vec(), y));
    }
    let mut g = Generator::new(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in by_class.iter_mut() {
        g.shuffle(class);
        let n_test = (class.len() as f64 * 0.2).round() as usize;
        test.extend(class.drain(..n_test));
        train.append(class);
    }
    g.shuffle(&mut train);
    let mut mean = [0f64; FEATURES];
    let mut sd = [0f64; FEATURES];
    for (x, _) in &train {
        for j in 0..FEATURES {
            mean[j] += x[j] as f64 / train.len() as f64;
        }
    }
    for (x, _) in &train {
        for j in 0..FEATURES {
            sd[j] += (x[j] as f64 - mean[j]).powi(2) / train.len() as f64;
        }
    }
    let scale = |rows: &[(Vec<f32>, usize)]| -> (Vec<f32>, Vec<usize>) {
        let mut xs = Vec::with_capacity(rows.len() * FEATURES);
        for (x, _) in rows {
            for j in 0..FEATURES {
                let s = if sd[j] > 0.0 { sd[j].sqrt() } else { 1.0 };
                xs.push(((x[j] as f64 - mean[j]) / s) as f32);
            }
        }
        (xs, rows.iter().map(|r| r.1).collect())
    };
    let (x_train, y_train) = scale(&train);
    let (x_test, y_test) = scale(&test);
    Split {
        x_train,
        y_train,
        x_test,
        y_test,
    }
}

/// Trains `model` with Adam(lr) and cross-entropy on mini-batches of `batch`
/// reshuffled every epoch; `shape` is the per-sample input shape. Returns the
/// test accuracy.
pub fn train(
    model: &mut dyn Module,
    data: &Split,
    shape: &[usize],
    epochs: usize,
    batch: usize,
    lr: f64,
    seed: u64,
) -> f64 {
    let mut opt = Adam::default()
        .lr(lr)
        .build(model.trainable_parameters())
        .expect("valid Adam settings");
    let ce = CrossEntropyLoss::default();
    let n = data.y_train.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut g = Generator::new(seed);
    let input = |xs: &[f32], rows: &[usize]| {
        let mut v = Vec::with_capacity(rows.len() * FEATURES);
        for &r in rows {
            v.extend_from_slice(&xs[r * FEATURES..(r + 1) * FEATURES]);
        }
        let mut s = vec![rows.len()];
        s.extend_from_slice(shape);
        Tensor::from_vec(v, &s)
    };
    for epoch in 0..epochs {
        model.train();
        g.shuffle(&mut order);
        let mut total = 0.0;
        for chunk in order.chunks(batch) {
            let x = input(&data.x_train, chunk);
            let y: Vec<usize> = chunk.iter().map(|&i| data.y_train[i]).collect();
            let loss = ce.loss(&model.forward(&x), &y);
            total += loss.item() * chunk.len() as f64;
            opt.step(&loss.backward());
        }
        if epoch % 10 == 9 || epoch + 1 == epochs {
            let acc = accuracy(model, data, shape);
            println!(
                "epoch {:>3}  train loss {:.4}  test accuracy {:.2}%",
                epoch + 1,
                total / n as f64,
                100.0 * acc
            );
        }
    }
    accuracy(model, data, shape)
}

pub fn accuracy(model: &mut dyn Module, data: &Split, shape: &[usize]) -> f64 {
    model.eval();
    let n = data.y_test.len();
    let mut s = vec![n];
    s.extend_from_slice(shape);
    let logits = no_grad(|| model.forward(&Tensor::from_vec(data.x_test.clone(), &s)));
    let pred = logits.argmax(1);
    pred.iter()
        .zip(&data.y_test)
        .filter(|(p, y)| p == y)
        .count() as f64
        / n as f64
}
