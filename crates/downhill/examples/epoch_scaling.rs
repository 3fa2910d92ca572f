//! Epoch time against dataset size: the digits MLP (64-128-10, Adam, batch
//! 32) on the digits data repeated 1×, 4× and 16×. Time per sample should
//! stay flat (epoch time linear in the number of samples).
//!
//! Run: `cargo run --release -p downhill --example epoch_scaling [THREADS]`

use std::path::Path;

use downhill::data::{read_csv, CsvOptions, Scaler, ScalerKind, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::Adam;
use downhill::train::{TrainConfig, Trainer};
use downhill::{DType, Generator};

fn main() -> downhill::Result<()> {
    if let Some(t) = std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .expect("set once");
    }
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/digits.csv"
    ));
    let table = read_csv(path, &CsvOptions::default())?;
    let d = table.num_features();
    let mut x = table.features.clone();
    let all: Vec<usize> = (0..table.rows).collect();
    Scaler::fit(ScalerKind::Standard, &x, d, &all).transform(&mut x, d);
    println!(
        "{:>6} {:>8} {:>12} {:>14}",
        "copies", "samples", "s/epoch", "µs/sample"
    );
    let mut base = None;
    for copies in [1usize, 4, 16] {
        let rows: Vec<usize> = (0..copies).flat_map(|_| all.iter().copied()).collect();
        let data = TensorDataset::from_table(&table, &x, &rows, DType::F32, None);
        let mut g = Generator::new(0);
        let model = Sequential::new()
            .push(Linear::new(d, 128, true, &mut g))
            .push(ReLU)
            .push(Linear::new(128, 10, true, &mut g));
        let opt = Adam::default().build(model.trainable_parameters())?;
        let epochs = 3;
        let config = TrainConfig {
            epochs,
            progress: false,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(
            Box::new(model),
            Box::new(CrossEntropyLoss::default()),
            Box::new(opt),
            config,
        );
        let started = std::time::Instant::now();
        t.fit(&data, None)?;
        let per_epoch = started.elapsed().as_secs_f64() / epochs as f64;
        let per_sample = per_epoch / rows.len() as f64 * 1e6;
        let b = *base.get_or_insert(per_sample);
        println!(
            "{copies:>6} {:>8} {per_epoch:>12.4} {per_sample:>10.3} ({:.2}× of 1×)",
            rows.len(),
            per_sample / b
        );
    }
    Ok(())
}
