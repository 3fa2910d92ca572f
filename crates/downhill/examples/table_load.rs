//! The load + encode step of `downhill train`, alone: read a file into a
//! frame, infer the column kinds, split, fit the schema and build the `f32`
//! datasets. Used by `bench/tables_speed.py`.
//!
//! Run: `cargo run --release -p downhill --example table_load -- FILE TARGET`

use std::path::Path;

use downhill::data::{prepare, read_frame, Dataset, FrameOptions, PrepareOptions};

fn main() -> Result<(), downhill::Error> {
    let args: Vec<String> = std::env::args().collect();
    let (file, target) = match &args[..] {
        [_, f, t] => (f.as_str(), t.as_str()),
        _ => {
            eprintln!("usage: table_load FILE TARGET");
            std::process::exit(2);
        }
    };
    let start = std::time::Instant::now();
    let frame = read_frame(Path::new(file), &FrameOptions::default())?;
    let read = start.elapsed().as_secs_f64();
    let data = prepare(&frame, &PrepareOptions::target(target), None)?;
    let total = start.elapsed().as_secs_f64();
    println!(
        "{{\"read_s\": {read:.3}, \"total_s\": {total:.3}, \"rows\": {}, \"inputs\": {}}}",
        data.train.len() + data.val.len() + data.test.len(),
        data.schema.width()
    );
    Ok(())
}
