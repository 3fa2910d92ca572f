//! Writes a downhill model (Linear, BatchNorm1d, ReLU, Linear) as
//! safetensors, with an input and downhill's outputs in JSON, for
//! tests/fixtures/check_downhill_in_torch.py to load into PyTorch.
//!
//! Run: `cargo run -p downhill --example export_for_torch -- DIR`

use downhill::nn::{save_safetensors, BatchNorm1d, Linear, Module, ReLU, Sequential};
use downhill::{Generator, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    let mut g = Generator::new(2026);
    let mut model = Sequential::new()
        .push(Linear::new(4, 8, true, &mut g))
        .push(BatchNorm1d::new(8))
        .push(ReLU)
        .push(Linear::new(8, 3, true, &mut g));
    for _ in 0..3 {
        model.forward(&Tensor::randn(&[16, 4], &mut g)); // training mode: running statistics move
    }
    model.eval();
    let x = Tensor::randn(&[5, 4], &mut g);
    let y = model.forward(&x);
    save_safetensors(&model, dir.join("downhill_mlp.safetensors"))?;
    let json = serde_json::json!({
        "input": x.to_vec_f64().chunks(4).map(|r| r.to_vec()).collect::<Vec<_>>(),
        "output": y.to_vec_f64().chunks(3).map(|r| r.to_vec()).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("downhill_mlp.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    println!("wrote {}", dir.join("downhill_mlp.safetensors").display());
    Ok(())
}
