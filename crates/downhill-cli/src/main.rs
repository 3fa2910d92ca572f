//! The `downhill` command line.
use clap::Parser;

/// Train models by gradient descent on the CPU.
#[derive(Parser)]
#[command(name = "downhill", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!("downhill {}: the train, predict, evaluate and minimize commands are not built yet; see the README for the library and its examples.", env!("CARGO_PKG_VERSION"));
}
