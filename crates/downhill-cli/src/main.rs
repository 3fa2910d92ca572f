//! The `downhill` command line: train, predict, evaluate, minimize.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config;
mod datasets;
mod error;
mod lr_find;
mod minimize;
mod opt_args;
mod plot;
mod predict;
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
    /// Train an MLP on a CSV/NPY file or a built-in dataset (iris, digits, diabetes).
    Train(Box<train::TrainArgs>),
    /// Predict with a trained model: class labels and probabilities, or values.
    Predict(predict::PredictArgs),
    /// Evaluate a trained model on labelled data (the metrics of metrics.json).
    Evaluate(predict::EvaluateArgs),
    /// Minimize a differentiable expression of named variables.
    Minimize(minimize::MinimizeArgs),
    /// Learning-rate range test (torch-lr-finder's) on the model and data `train` would use.
    #[command(name = "lr-find")]
    LrFind(Box<lr_find::LrFindArgs>),
}

fn main() -> ExitCode {
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
    let code = |c: i32| ExitCode::from(u8::try_from(c).unwrap_or(1));
    let result: Result<ExitCode, CliError> = match cli.command {
        Command::Train(args) => train::run(*args).map(code),
        Command::Predict(args) => predict::run_predict(args).map(|()| ExitCode::SUCCESS),
        Command::Evaluate(args) => predict::run_evaluate(args).map(|()| ExitCode::SUCCESS),
        Command::Minimize(args) => minimize::run(args),
        Command::LrFind(args) => lr_find::run(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
