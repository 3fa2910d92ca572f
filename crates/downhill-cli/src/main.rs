//! The `downhill` command line: train, predict, evaluate, minimize.
use clap::{Parser, Subcommand};

mod config;
mod datasets;
mod error;
mod inspect;
mod minimize;
mod opt_args;
mod plot;
mod predict;
mod prepare;
mod report;
mod rundir;
mod settings;
mod source;
mod spec;
mod train;

use error::CliError;

/// Train models by gradient descent on the CPU.
#[derive(Parser)]
#[command(name = "downhill", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an MLP on a CSV/NPY/Parquet file or a built-in dataset (iris, digits, diabetes, penguins).
    Train(Box<train::TrainArgs>),
    /// Predict with a trained model: class labels and probabilities, or values.
    Predict(predict::PredictArgs),
    /// Evaluate a trained model on labelled data (the metrics of metrics.json).
    Evaluate(predict::EvaluateArgs),
    /// Show each column's inferred kind, missing and distinct counts, and what train will do with it.
    Inspect(inspect::InspectArgs),
    /// Minimize a differentiable expression of named variables.
    Minimize(minimize::MinimizeArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                std::process::exit(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    },
                );
            }
            // One line: clap's first line names the flag.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("{first} (see --help)");
            std::process::exit(2);
        }
    };
    let result: Result<i32, CliError> = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Predict(args) => predict::run_predict(args).map(|()| 0),
        Command::Evaluate(args) => predict::run_evaluate(args).map(|()| 0),
        Command::Inspect(args) => inspect::run(args).map(|()| 0),
        Command::Minimize(args) => minimize::run(args).map(|()| 0),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
