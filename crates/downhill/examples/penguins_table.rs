//! The pipeline of `downhill train` from Rust, on a table as it comes
//! (text columns, missing cells): read → schema → split → scale → datasets →
//! `Trainer`, then the model saved as a run directory, loaded back and
//! applied to the file, preprocessing included.
//!
//! Run: `cargo run --release -p downhill --example penguins_table`

use std::path::Path;

use downhill::data::{prepare, read_frame, FrameOptions, Output, PrepareOptions, TrainedModel};
use downhill::nn::Module;
use downhill::train::{TrainConfig, Trainer};

fn main() -> Result<(), downhill::Error> {
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/penguins.csv");
    let frame = read_frame(&csv, &FrameOptions::default())?;
    let data = prepare(&frame, &PrepareOptions::target("species"), None)?;
    let spec = data.mlp(&[128], "relu");
    let model = spec.architecture.build(0);
    let opt = downhill::optim::from_config(
        "Adam",
        &serde_json::json!({"lr": 1e-3}),
        model.trainable_parameters(),
    )?;
    let config = TrainConfig {
        epochs: 100,
        progress: false,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(Box::new(model), spec.build_loss()?, opt, config);
    trainer.fit(&data.train, Some(&data.val))?;
    let trained = TrainedModel::new(spec, trainer.into_model());
    println!("test metrics: {:?}", trained.metrics(&data.test)?);

    // A run directory, as the CLI writes it, and back.
    let dir = std::env::temp_dir().join(format!("downhill-penguins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| downhill::Error::Io {
        path: dir.clone(),
        source,
    })?;
    trained.save(&dir)?;
    let loaded = TrainedModel::load(&dir)?;
    let p = loaded.predict_file(&csv, &FrameOptions::default())?;
    if let Output::Classes {
        labels, predicted, ..
    } = &p.output
    {
        println!(
            "first rows: {:?}",
            predicted
                .iter()
                .take(3)
                .map(|&i| &labels[i])
                .collect::<Vec<_>>()
        );
    }
    println!("imputed: {:?}", p.notes.imputed);
    std::fs::remove_dir_all(&dir).map_err(|source| downhill::Error::Io { path: dir, source })?;
    Ok(())
}
