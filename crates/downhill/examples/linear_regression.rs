//! Linear regression on the diabetes data with full-batch, mini-batch and
//! stochastic gradient descent side by side: same model, same learning
//! rate, same number of epochs — only the batch size differs.
//!
//! Run: `cargo run --release -p downhill --example linear_regression`

use std::path::Path;

use downhill::data::{
    read_csv, split, BatchSize, CsvOptions, Scaler, ScalerKind, TargetColumn, TensorDataset,
};
use downhill::loss::MseLoss;
use downhill::nn::{Linear, Module};
use downhill::optim::Sgd;
use downhill::train::{evaluate, predict, regression_metrics, TrainConfig, Trainer};
use downhill::{DType, Generator};

fn main() -> downhill::Result<()> {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/diabetes.csv"
    ));
    let mut table = read_csv(path, &CsvOptions::default())?;
    let s = split(table.rows, None, 0.0, 0.2, 0)?;
    let d = table.num_features();
    let mut x = table.features.clone();
    Scaler::fit(ScalerKind::Standard, &x, d, &s.train).transform(&mut x, d);
    // Standardize the target too, so one learning rate suits every batch size.
    let Some(TargetColumn::Values { values, .. }) = &mut table.target else {
        unreachable!()
    };
    let y_scaler = Scaler::fit(ScalerKind::Standard, values, 1, &s.train);
    let (mean, std) = match &y_scaler {
        Scaler::Standard { mean, std } => (mean[0], std[0]),
        _ => unreachable!(),
    };
    y_scaler.transform(values, 1);
    let train = TensorDataset::from_table(&table, &x, &s.train, DType::F32, None);
    let test = TensorDataset::from_table(&table, &x, &s.test, DType::F32, None);

    println!(
        "{:<22} {:>6} {:>10} {:>10} {:>8} {:>8}",
        "batch size", "steps", "train MSE", "test RMSE", "test R²", "seconds"
    );
    for (label, batch) in [
        ("full (vanilla GD)", BatchSize::Full),
        ("32 (mini-batch)", BatchSize::Size(32)),
        ("1 (stochastic)", BatchSize::Size(1)),
    ] {
        let model = Linear::new(d, 1, true, &mut Generator::new(0));
        let opt = Sgd::default()
            .lr(0.01)
            .build(model.trainable_parameters())?;
        let config = TrainConfig {
            epochs: 100,
            batch_size: batch,
            progress: false,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(
            Box::new(model),
            Box::new(MseLoss::default()),
            Box::new(opt),
            config,
        );
        let started = std::time::Instant::now();
        let report = t.fit(&train, None)?;
        let secs = started.elapsed().as_secs_f64();
        let train_mse = evaluate(t.model(), &MseLoss::default(), &train)["loss"];
        // Back to the target's units (disease progression) for RMSE and R².
        let (pred, _) = predict(t.model(), &test);
        let pred: Vec<f64> = pred.iter().map(|p| p * std + mean).collect();
        let truth: Vec<f64> = test
            .values()
            .unwrap()
            .0
            .iter()
            .map(|v| v * std + mean)
            .collect();
        let m = regression_metrics(&pred, &truth, 1);
        println!(
            "{label:<22} {:>6} {train_mse:>10.4} {:>10.2} {:>8.4} {secs:>8.3}",
            report.steps, m["rmse"], m["r2"]
        );
    }
    println!("(MSE on the standardized target; RMSE in the target's units, 25..346)");
    Ok(())
}
