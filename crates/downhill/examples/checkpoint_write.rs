//! The checkpoint writer alone: a 64 → H → H → 10 MLP with Adam after one
//! step (moments allocated), its training state written to a checkpoint file
//! three times as the trainer writes it (`Checkpoint::save_deferred`: the
//! bytes written, then sync and rename on a thread of their own); prints H,
//! the file's size, the best time the caller waited (the training loop's
//! pause) and the best time until the file was on disk under its name.
//! bench/checkpoint_write.sh runs it beside PyTorch's `torch.save`.
//!
//!     cargo run --release -p downhill --example checkpoint_write -- H DIR

#[path = "common/mlp.rs"]
mod mlp;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::CrossEntropyLoss;
use downhill::nn::Module;
use downhill::optim::Adam;
use downhill::train::{TrainConfig, Trainer};
use downhill::{Generator, Tensor};
use mlp::mlp;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let h: usize = args.get(1).map_or(Ok(1024), |s| s.parse())?;
    let dir = std::path::PathBuf::from(args.get(2).map_or("target/checkpoint-bench", |s| s));
    std::fs::create_dir_all(&dir)?;
    let mut g = Generator::new(0);
    let model = mlp(&[64, h, h, 10], &mut g);
    let opt = Adam::default().build(model.trainable_parameters())?;
    let x = Tensor::randn(&[32, 64], &mut g);
    let data = TensorDataset::classification(x, (0..32).map(|i| i % 10).collect());
    let config = TrainConfig {
        epochs: 1,
        batch_size: BatchSize::Full,
        progress: false,
        log_every: 0,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(
        Box::new(model),
        Box::new(CrossEntropyLoss::default()),
        Box::new(opt),
        config,
    );
    trainer.fit(&data, None)?;
    let ck = trainer.checkpoint();
    let path = dir.join(format!("downhill-{h}.safetensors"));
    let (mut waited, mut durable) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        let pending = ck.save_deferred(&path, || {})?;
        waited = waited.min(t0.elapsed().as_secs_f64());
        pending.wait()?;
        durable = durable.min(t0.elapsed().as_secs_f64());
    }
    println!("{h} {} {waited} {durable}", std::fs::metadata(&path)?.len());
    Ok(())
}
