// The `downhill` command line: train, predict, evaluate, minimize.
// (Plain comments, not `//!`: the library target includes this file, see lib.rs.)
use clap::{Parser, Subcommand};

mod averaging_args;
mod config;
mod datasets;
mod ddp;
mod error;
mod inspect;
mod interrupt;
mod loss_args;
mod lr_find;
mod minimize;
mod opt_args;
mod plot;
mod predict;
mod prepare;
mod report;
mod resume;
mod rundir;
mod runs;
mod settings;
mod source;
mod spec;
mod tensorboard;
mod train;
mod trainer;

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
    Minimize(Box<minimize::MinimizeArgs>),
    /// List the runs in run directories as one table (sort, JSON, a plot of their validation curves).
    Runs(runs::RunsArgs),
    /// Learning-rate range test (torch-lr-finder's) on the model and data `train` would use.
    #[command(name = "lr-find")]
    LrFind(Box<lr_find::LrFindArgs>),
}

#[allow(dead_code)] // the library includes this file and does not call it
fn main() {
    std::process::exit(run(std::env::args_os()));
}

/// Runs `downhill ARGS…` in-process: `argv[0]` is the program's name, the
/// rest are the arguments. Returns the exit code the binary exits with (0
/// success, 1 diverged, 2 bad input, 130 interrupted); errors are printed as
/// one line on standard error, output goes where the binary's goes. The
/// library exposes it as `downhill_cli::run`, for the fuzz target.
///
/// ```
/// assert_eq!(downhill_cli::run(["downhill", "minimize", "(x-3)^2", "--init", "x=0", "--quiet"]), 0);
/// assert_eq!(downhill_cli::run(["downhill", "train", "--epochs", "0"]), 2);
/// ```
pub fn run<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(argv) {
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
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                };
            }
            // One line: clap's first line names the flag.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: invalid arguments");
            eprintln!("{first} (see --help)");
            return 2;
        }
    };
    let result: Result<i32, CliError> = match cli.command {
        Command::Train(args) => train::run(*args),
        Command::Predict(args) => predict::run_predict(args).map(|()| 0),
        Command::Evaluate(args) => predict::run_evaluate(args).map(|()| 0),
        Command::Inspect(args) => inspect::run(args).map(|()| 0),
        Command::Minimize(args) => minimize::run(*args),
        Command::LrFind(args) => lr_find::run(*args),
        Command::Runs(args) => runs::run(args).map(|()| 0),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
