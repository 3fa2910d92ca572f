//! Logistic regression: a single linear layer with the cross-entropy loss
//! (softmax regression, scikit-learn's multinomial `LogisticRegression`)
//! on iris, trained full-batch with L-BFGS and with plain gradient descent.
//!
//! Run: `cargo run --release -p downhill --example logistic_regression`

use std::path::Path;

use downhill::data::{
    read_csv, split, BatchSize, CsvOptions, Dataset, Scaler, ScalerKind, TensorDataset,
};
use downhill::loss::{CrossEntropyLoss, Loss, Penalty};
use downhill::nn::{Linear, Module};
use downhill::optim::from_config;
use downhill::train::{evaluate, TrainConfig, Trainer};
use downhill::{DType, Generator};

fn main() -> downhill::Result<()> {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/iris.csv"));
    let table = read_csv(path, &CsvOptions::default())?;
    let labels = table.class_labels().unwrap().to_vec();
    let classes = match &table.target {
        Some(downhill::data::TargetColumn::Classes { indices, .. }) => indices.clone(),
        _ => unreachable!(),
    };
    let s = split(table.rows, Some(&classes), 0.0, 0.3, 1)?;
    let d = table.num_features();
    let mut x = table.features.clone();
    Scaler::fit(ScalerKind::Standard, &x, d, &s.train).transform(&mut x, d);
    let train = TensorDataset::from_table(&table, &x, &s.train, DType::F64, None);
    let test = TensorDataset::from_table(&table, &x, &s.test, DType::F64, None);
    println!(
        "iris: {} classes {:?}, {} train / {} test rows",
        labels.len(),
        labels,
        train.len(),
        test.len()
    );

    // 1. L-BFGS on the full batch with an L2 penalty on the weights (C = 1 in scikit-learn terms).
    let model = Linear::with_dtype(d, labels.len(), true, DType::F64, &mut Generator::new(0));
    let opt = from_config(
        "LBFGS",
        &serde_json::json!({"lr": 1, "max_iter": 100, "line_search_fn": "strong_wolfe"}),
        model.trainable_parameters(),
    )?;
    let penalty = Penalty::l2(1.0 / (2.0 * train.len() as f64));
    let mut lbfgs = opt;
    let all = train.batch(&(0..train.len()).collect::<Vec<_>>());
    let ce = CrossEntropyLoss::default();
    for _ in 0..5 {
        lbfgs.step_with_closure(&mut || {
            let data_loss = ce.forward(&model.forward(&all.inputs), all.targets.as_target(), &[]);
            let loss = match penalty.of(&model.named_parameters()) {
                Some(p) => &data_loss + &p,
                None => data_loss,
            };
            (loss.item(), loss.backward())
        });
    }
    let m = evaluate(&model, &ce, &test);
    println!(
        "L-BFGS, 5 outer steps:        test accuracy {:.4}, loss {:.4}",
        m["accuracy"], m["loss"]
    );
    println!("weights:\n{}", model.weight);

    // 2. Plain full-batch gradient descent through the trainer.
    let model = Linear::with_dtype(d, labels.len(), true, DType::F64, &mut Generator::new(0));
    let opt = from_config(
        "GradientDescent",
        &serde_json::json!({"lr": 0.5}),
        model.trainable_parameters(),
    )?;
    let config = TrainConfig {
        epochs: 300,
        batch_size: BatchSize::Full,
        progress: false,
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        opt,
        config,
    );
    let r = t.fit(&train, None)?;
    let m = evaluate(t.model(), &ce, &test);
    println!(
        "gradient descent, {} steps: test accuracy {:.4}, loss {:.4}",
        r.steps, m["accuracy"], m["loss"]
    );
    Ok(())
}
