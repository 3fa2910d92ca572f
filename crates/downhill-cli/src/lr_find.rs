//! `downhill lr-find` (the learning-rate range test on the data and model
//! `downhill train` would use) and `downhill train --lr auto` (the same
//! test first, then training at its suggestion).

use downhill::train::{LrFindConfig, LrFinding, StepMode, SweepEnd};
use serde_json::json;

use crate::error::{CliError, Result};
use crate::opt_args::LrArg;
use crate::prepare::{prepare, Prepared};
use crate::rundir::{default_out, RunDir};
use crate::settings::{Settings, TrainArgs};
use crate::trainer::build_trainer;

/// Flags of `downhill lr-find`: the data, model and optimizer flags of
/// `train`, and the range test's own.
#[derive(clap::Args, Clone, Debug)]
pub struct LrFindArgs {
    #[command(flatten)]
    pub train: TrainArgs,
    #[command(flatten)]
    pub range: RangeArgs,
}

/// The range test's settings (torch-lr-finder's names and defaults, but a
/// start of 1e-7 as fastai's `lr_find`).
#[derive(clap::Args, Clone, Debug)]
pub struct RangeArgs {
    /// First learning rate of the sweep.
    #[arg(long = "start-lr", default_value_t = 1e-7)]
    pub start_lr: f64,
    /// Last learning rate of the sweep.
    #[arg(long = "end-lr", default_value_t = 10.0)]
    pub end_lr: f64,
    /// Steps of the sweep.
    #[arg(long = "num-iter", default_value_t = 100)]
    pub num_iter: usize,
    /// exp (geometric) or linear growth of the learning rate.
    #[arg(long = "step-mode", default_value = "exp")]
    pub step_mode: String,
    /// Weight of the newest loss in the exponential smoothing, in [0, 1).
    #[arg(long = "smooth-f", default_value_t = 0.05)]
    pub smooth_f: f64,
    /// Stop once the smoothed loss exceeds this multiple of the best.
    #[arg(long = "diverge-th", default_value_t = 5.0)]
    pub diverge_th: f64,
}

impl Default for RangeArgs {
    fn default() -> Self {
        RangeArgs {
            start_lr: 1e-7,
            end_lr: 10.0,
            num_iter: 100,
            step_mode: "exp".into(),
            smooth_f: 0.05,
            diverge_th: 5.0,
        }
    }
}

impl RangeArgs {
    fn config(&self) -> Result<LrFindConfig> {
        let step_mode = match self.step_mode.as_str() {
            "exp" => StepMode::Exp,
            "linear" => StepMode::Linear,
            other => {
                return Err(CliError::flag(
                    "--step-mode",
                    format!("expected exp or linear, got {other:?}"),
                ))
            }
        };
        if !(self.start_lr.is_finite() && self.start_lr > 0.0 && self.start_lr < self.end_lr) {
            return Err(CliError::flag(
                "--start-lr",
                format!(
                    "must be a number > 0 and below --end-lr {}, got {}",
                    self.end_lr, self.start_lr
                ),
            ));
        }
        Ok(LrFindConfig {
            start_lr: Some(self.start_lr),
            end_lr: self.end_lr,
            num_iter: self.num_iter,
            step_mode,
            smooth_f: self.smooth_f,
            diverge_th: self.diverge_th,
            ..LrFindConfig::default()
        })
    }
}

/// A library error about a setting, as the flag that set it.
fn flag_error(e: downhill::Error) -> CliError {
    match e {
        downhill::Error::InvalidArgument { name, message } => {
            let key = name.trim_start_matches("lr_find.").replace('_', "-");
            CliError::flag(format!("--{key}"), message)
        }
        other => CliError::Lib(other),
    }
}

/// Runs the range test on the trainer `train` would build for `settings`;
/// writes `lr_find.png` and `lr_find.csv` into `run`.
fn sweep(
    settings: &Settings,
    prepared: &Prepared,
    run: &RunDir,
    range: &RangeArgs,
    quiet: bool,
) -> Result<LrFinding> {
    let config = range.config()?;
    let mut trainer = build_trainer(settings, prepared, run, true)?;
    if !quiet {
        println!(
            "lr range test: {} steps of {}, lr {:e} → {:e} ({}), on the training split",
            config.num_iter, settings.optimizer, range.start_lr, range.end_lr, range.step_mode
        );
    }
    let found = trainer
        .lr_find(&prepared.train, None, &config)
        .map_err(flag_error)?;
    found.plot(&run.file("lr_find.png"), "learning-rate range test")?;
    let mut csv = String::from("step,lr,loss\n");
    for (i, (lr, loss)) in found.lrs.iter().zip(&found.losses).enumerate() {
        csv.push_str(&format!("{i},{lr:e},{loss}\n"));
    }
    downhill::nn::write_atomic(&run.file("lr_find.csv"), csv.as_bytes())?;
    Ok(found)
}

/// The summary lines: how the sweep ended, the rule and the suggestion.
fn describe(found: &LrFinding) -> Vec<String> {
    let n = found.lrs.len();
    let end = match found.end {
        SweepEnd::Completed => format!("completed {n} steps"),
        SweepEnd::Diverged => format!("stopped at step {n}: the loss diverged"),
        SweepEnd::NotFinite => format!("stopped after {n} steps: the loss became non-finite"),
    };
    let mut lines = vec![format!("sweep: {end}")];
    lines.push(format!("rule: {}", found.rule()));
    lines.push(match found.suggested_lr() {
        Some(lr) => format!("suggested lr: {lr:.3e}"),
        None => "suggested lr: none".into(),
    });
    lines
}

fn no_suggestion(found: &LrFinding) -> CliError {
    CliError::flag(
        "--num-iter",
        format!(
            "the sweep recorded {} points, too few to suggest a learning rate (it needs {}); raise --num-iter or --end-lr",
            found.lrs.len(),
            found.config.skip_start + found.config.skip_end + 2
        ),
    )
}

/// Runs `downhill lr-find`.
///
/// **Errors** (exit code 2) on an invalid flag, unreadable data, or a sweep
/// too short to suggest a learning rate.
pub fn run(args: LrFindArgs) -> Result<i32> {
    if args.train.resume.is_some() {
        return Err(CliError::flag("--resume", "is for `downhill train`"));
    }
    if args.train.opt.lr.is_some() {
        return Err(CliError::flag(
            "--lr",
            "the range test sets the learning rate: use --start-lr and --end-lr",
        ));
    }
    let args = match &args.train.config {
        Some(path) => LrFindArgs {
            train: crate::config::apply(path, args.train.clone())?,
            ..args
        },
        None => args,
    };
    let quiet = args.train.quiet;
    let settings = Settings::resolve(&args.train)?;
    let prepared = prepare(&settings, None, quiet)?;
    let out = args.train.out.clone().unwrap_or_else(default_out);
    let run = RunDir::create(&out)?;
    let found = sweep(&settings, &prepared, &run, &args.range, quiet)?;
    let out = run.finish()?;
    for line in describe(&found) {
        println!("{line}");
    }
    println!(
        "wrote {} and {}",
        out.join("lr_find.png").display(),
        out.join("lr_find.csv").display()
    );
    if found.suggestion.is_none() {
        return Err(no_suggestion(&found));
    }
    Ok(0)
}

/// The fewest and most steps of `train --lr auto`'s sweep.
const AUTO_SWEEP_STEPS: (usize, usize) = (100, 1000);

/// The sweep of `train --lr auto`: the default range test, but as long as a
/// third of the run's step budget (at least 100 steps, at most 1000).
///
/// The steepest point of a sweep moves with its length: at a small lr the
/// loss has not moved yet after a few steps, so a short sweep suggests an
/// lr that is fast for a few steps and too large for a whole run (digits,
/// Adam, 30 epochs of 40 steps: 100 steps suggest 2.6e-2, 400 suggest
/// 4.1e-3, 1000 suggest 9.2e-4). Tying the length to the run's budget asks
/// for the lr that descends fastest over a horizon like the run's.
fn auto_range(settings: &Settings, train_rows: usize) -> RangeArgs {
    let batch = match settings.batch_size {
        downhill::data::BatchSize::Full => train_rows.max(1),
        downhill::data::BatchSize::Size(b) => b.max(1),
    };
    let per_epoch = train_rows
        .div_ceil(batch)
        .div_ceil(settings.accumulate.max(1));
    let mut budget = per_epoch.saturating_mul(settings.epochs);
    if let Some(max) = settings.max_steps {
        budget = budget.min(max);
    }
    let (fewest, most) = AUTO_SWEEP_STEPS;
    RangeArgs {
        num_iter: (budget / 3).clamp(fewest, most),
        ..RangeArgs::default()
    }
}

/// `train --lr auto`: runs the range test ([`auto_range`]'s length) on the
/// run's model and data, prints its outcome, writes its plot and CSV into
/// the run directory, and returns the settings with the suggested lr.
///
/// **Errors** when the sweep is too short to suggest a learning rate.
pub fn auto_lr(
    mut settings: Settings,
    args: &TrainArgs,
    prepared: &Prepared,
    run: &RunDir,
) -> Result<Settings> {
    if args.opt.lr != Some(LrArg::Auto) {
        return Ok(settings);
    }
    let range = auto_range(&settings, downhill::data::Dataset::len(&prepared.train));
    let found = sweep(&settings, prepared, run, &range, args.quiet)?;
    let lr = found.suggested_lr().ok_or_else(|| no_suggestion(&found))?;
    if !args.quiet {
        for line in describe(&found) {
            println!("{line}");
        }
    }
    println!(
        "--lr auto: training with lr {lr:.3e}, the suggestion of a {}-step range test (a third of the run's steps, 100 to 1000; lr_find.png in the run directory)",
        range.num_iter
    );
    settings.hyper["lr"] = json!(lr);
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(flags: TrainArgs) -> Settings {
        Settings::resolve(&flags).unwrap()
    }

    #[test]
    fn the_auto_sweep_is_a_third_of_the_budget_within_its_bounds() {
        // digits' 1258 training rows, batch 32: 40 steps per epoch.
        let mut a = TrainArgs {
            epochs: Some(30),
            ..Default::default()
        };
        assert_eq!(auto_range(&settings(a.clone()), 1258).num_iter, 400);
        a.epochs = Some(2);
        assert_eq!(auto_range(&settings(a.clone()), 1258).num_iter, 100);
        a.epochs = Some(1000);
        assert_eq!(auto_range(&settings(a.clone()), 1258).num_iter, 1000);
        a.max_steps = Some(600);
        assert_eq!(auto_range(&settings(a.clone()), 1258).num_iter, 200);
        a.max_steps = None;
        a.epochs = Some(30);
        a.accumulate = Some(2);
        assert_eq!(auto_range(&settings(a.clone()), 1258).num_iter, 200);
        a.accumulate = None;
        a.batch_size = Some("full".into());
        assert_eq!(auto_range(&settings(a), 1258).num_iter, 100);
        let r = auto_range(&settings(TrainArgs::default()), 1258);
        assert_eq!((r.start_lr, r.end_lr), (1e-7, 10.0), "the default range");
    }
}
