//! Closure-based optimizers train through `Trainer`: full-batch L-BFGS on
//! iris and diabetes reaches at least the validation accuracy / R² of Adam
//! with the command line's defaults (lr 1e-3, batches of 32, 100 epochs,
//! one hidden layer of 128 ReLU units); L-BFGS keeps the weights of its
//! best validation epoch (early stopping), as a user of a full-batch
//! second-order method would.

use downhill::data::{split, BatchSize, Dataset, TensorDataset};
use downhill::loss::{CrossEntropyLoss, Loss, MseLoss};
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::{Adam, Lbfgs, LineSearch, Optimizer};
use downhill::train::{evaluate, EarlyStopping, Monitor, StopReason, TrainConfig, Trainer};
use downhill::{Generator, Tensor};

fn read(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/../../data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Standardizes every column of `x` (`cols` wide) on the rows `fit_rows`.
fn standardize(x: &mut [f64], cols: usize, fit_rows: &[usize]) {
    for c in 0..cols {
        let n = fit_rows.len() as f64;
        let mean = fit_rows.iter().map(|&r| x[r * cols + c]).sum::<f64>() / n;
        let var = fit_rows
            .iter()
            .map(|&r| (x[r * cols + c] - mean).powi(2))
            .sum::<f64>()
            / n;
        let sd = var.sqrt().max(1e-12);
        for r in 0..x.len() / cols {
            x[r * cols + c] = (x[r * cols + c] - mean) / sd;
        }
    }
}

fn rows_of(x: &[f64], cols: usize, rows: &[usize]) -> Tensor {
    let v: Vec<f32> = rows
        .iter()
        .flat_map(|&r| x[r * cols..(r + 1) * cols].iter().map(|&v| v as f32))
        .collect();
    Tensor::from_vec(v, &[rows.len(), cols])
}

/// Iris, stratified 80/20, standardized: (train, validation).
fn iris() -> (TensorDataset, TensorDataset) {
    let rows = read("iris.csv");
    let labels = ["setosa", "versicolor", "virginica"];
    let mut x: Vec<f64> = rows
        .iter()
        .flat_map(|r| r[..4].iter().map(|v| v.parse::<f64>().unwrap()))
        .collect();
    let y: Vec<usize> = rows
        .iter()
        .map(|r| labels.iter().position(|l| *l == r[4]).unwrap())
        .collect();
    let s = split(y.len(), Some(&y), 0.2, 0.0, 0).unwrap();
    standardize(&mut x, 4, &s.train);
    let make = |rows: &[usize]| {
        TensorDataset::classification(rows_of(&x, 4, rows), rows.iter().map(|&r| y[r]).collect())
    };
    (make(&s.train), make(&s.val))
}

/// Diabetes, 80/20, features and target standardized: (train, validation).
fn diabetes() -> (TensorDataset, TensorDataset) {
    let rows = read("diabetes.csv");
    let mut x: Vec<f64> = rows
        .iter()
        .flat_map(|r| r[..10].iter().map(|v| v.parse::<f64>().unwrap()))
        .collect();
    let mut y: Vec<f64> = rows.iter().map(|r| r[10].parse().unwrap()).collect();
    let s = split(y.len(), None, 0.2, 0.0, 0).unwrap();
    standardize(&mut x, 10, &s.train);
    standardize(&mut y, 1, &s.train);
    let make =
        |rows: &[usize]| TensorDataset::regression(rows_of(&x, 10, rows), &rows_of(&y, 1, rows));
    (make(&s.train), make(&s.val))
}

fn mlp(inputs: usize, outputs: usize) -> Sequential {
    let mut g = Generator::new(0);
    Sequential::new()
        .push(Linear::new(inputs, 128, true, &mut g))
        .push(ReLU)
        .push(Linear::new(128, outputs, true, &mut g))
}

/// Trains a fresh 128-unit MLP with the optimizer `opt` builds and returns
/// the validation metric `metric` and the steps taken.
fn fit(
    opt: fn(&Sequential) -> Box<dyn Optimizer>,
    loss: fn() -> Box<dyn Loss>,
    config: TrainConfig,
    (train, val): &(TensorDataset, TensorDataset),
    metric: &str,
) -> (f64, usize) {
    let outputs = match train.classes() {
        Some(_) => 3,
        None => 1,
    };
    let model = mlp(train.inputs().shape()[1], outputs);
    let opt = opt(&model);
    let mut t = Trainer::new(Box::new(model), loss(), opt, config);
    let report = t.fit(train, Some(val as &dyn Dataset)).unwrap();
    assert_ne!(
        report.stopped_because,
        StopReason::Divergence,
        "{}",
        report.message
    );
    let m = evaluate(t.model(), loss().as_ref(), val);
    (m[metric], report.steps)
}

fn adam_defaults() -> TrainConfig {
    TrainConfig {
        epochs: 100,
        batch_size: BatchSize::Size(32),
        progress: false,
        ..TrainConfig::default()
    }
}

/// Full-batch L-BFGS (an epoch is one step of `max_iter` = 2 iterations), keeping the weights
/// of the epoch with the best validation `metric`.
fn lbfgs_full_batch(epochs: usize, metric: &str) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: BatchSize::Full,
        shuffle: false,
        progress: false,
        monitor: Monitor::new(&format!("val_{metric}")),
        early_stopping: Some(EarlyStopping::new(epochs)),
        ..TrainConfig::default()
    }
}

fn adam(model: &Sequential) -> Box<dyn Optimizer> {
    Box::new(
        Adam::default()
            .lr(1e-3)
            .build(model.trainable_parameters())
            .unwrap(),
    )
}

fn lbfgs_with(model: &Sequential, line_search_fn: LineSearch) -> Box<dyn Optimizer> {
    let cfg = Lbfgs {
        line_search_fn,
        max_iter: 2,
        ..Lbfgs::default()
    };
    Box::new(cfg.build(model.trainable_parameters()).unwrap())
}

fn lbfgs_wolfe(model: &Sequential) -> Box<dyn Optimizer> {
    lbfgs_with(model, LineSearch::StrongWolfe)
}

fn lbfgs_plain(model: &Sequential) -> Box<dyn Optimizer> {
    lbfgs_with(model, LineSearch::None)
}

fn ce() -> Box<dyn Loss> {
    Box::new(CrossEntropyLoss::default())
}

fn mse() -> Box<dyn Loss> {
    Box::new(MseLoss::default())
}

#[test]
fn full_batch_lbfgs_classifies_iris_at_least_as_well_as_adam() {
    let data = iris();
    let (adam_acc, _) = fit(adam, ce, adam_defaults(), &data, "accuracy");
    let (lbfgs_acc, steps) = fit(
        lbfgs_wolfe,
        ce,
        lbfgs_full_batch(30, "accuracy"),
        &data,
        "accuracy",
    );
    assert_eq!(steps, 30, "one L-BFGS step per full-batch epoch");
    assert!(
        lbfgs_acc >= adam_acc && lbfgs_acc >= 0.9,
        "L-BFGS {lbfgs_acc} vs Adam {adam_acc}"
    );
    // PyTorch's default L-BFGS (fixed step lr = 1, no line search) trains too.
    let (plain_acc, _) = fit(
        lbfgs_plain,
        ce,
        lbfgs_full_batch(30, "accuracy"),
        &data,
        "accuracy",
    );
    assert!(plain_acc >= 0.9, "L-BFGS without line search: {plain_acc}");
}

#[test]
fn full_batch_lbfgs_fits_diabetes_at_least_as_well_as_adam() {
    let data = diabetes();
    let (adam_r2, _) = fit(adam, mse, adam_defaults(), &data, "r2");
    let (lbfgs_r2, _) = fit(lbfgs_wolfe, mse, lbfgs_full_batch(30, "r2"), &data, "r2");
    assert!(
        lbfgs_r2 >= adam_r2 && lbfgs_r2 > 0.3,
        "L-BFGS R² {lbfgs_r2} vs Adam {adam_r2}"
    );
}
