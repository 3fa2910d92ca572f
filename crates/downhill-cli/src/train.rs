//! `downhill train`: an MLP on a CSV/NPY file or a built-in dataset, with a
//! run directory holding the model, its description, metrics, history,
//! checkpoints and loss curves.

use std::path::Path;

use downhill::data::{BatchSize, Dataset, Split};
use downhill::train::memory::{available_memory, format_bytes, MemoryEstimate, RunPlan};
use downhill::train::{Checkpoint, Report, StopReason, Trainer};
use serde_json::Value;

use crate::error::{CliError, Result};
use crate::interrupt;
use crate::prepare::{loss_is_scaled, prepare, Prepared};
use crate::report;
use crate::resume::{self, ResumeFrom};
use crate::rundir::{default_out, RunDir};
pub use crate::settings::{Settings, TrainArgs};
use crate::trainer::build_trainer;

/// The settings of the run, and for `--resume` where it continues from.
fn resolve_run(args: &TrainArgs) -> Result<(Settings, Option<(ResumeFrom, Checkpoint)>)> {
    let Some(dir) = &args.resume else {
        let mut s = Settings::resolve(args)?;
        s.data = resume::absolute_data(&s.data);
        s.data_hash = resume::fingerprint(&s.data)?;
        return Ok((s, None));
    };
    let from = resume::locate(dir)?;
    let ck = Checkpoint::load(&from.checkpoint)?;
    let stored: Settings =
        serde_json::from_value(ck.state["extra"]["settings"].clone()).map_err(|e| {
            CliError::flag(
                "--resume",
                format!(
                    "{}: not a checkpoint of `downhill train` ({e})",
                    from.checkpoint.display()
                ),
            )
        })?;
    let s = resume::check_flags(args, stored)?;
    Ok((s, Some((from, ck))))
}

/// The run directory: a new one, or for `--resume` the run's own (replaced
/// when the resumed run is saved) unless `--out` names another.
fn open_run_dir(args: &TrainArgs, resume: Option<&ResumeFrom>) -> Result<RunDir> {
    let Some(from) = resume else {
        return RunDir::create(&args.out.clone().unwrap_or_else(default_out));
    };
    let carry = from.leftover.as_deref().unwrap_or(&from.run_dir);
    match &args.out {
        Some(out) if !same_dir(out, &from.run_dir) => {
            if out.exists() {
                return RunDir::create(out); // refuses, naming --out
            }
            RunDir::resume_into(out, carry, None)
        }
        _ => RunDir::resume_into(&from.run_dir, carry, from.leftover.clone()),
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Runs `downhill train`; returns the process exit code (1 if training
/// diverged, 130 if it was interrupted and saved).
pub fn run(args: TrainArgs) -> Result<i32> {
    let args = match &args.config {
        Some(path) => crate::config::apply(path, args.clone())?,
        None => args,
    };
    if let Some(n) = args.threads {
        if n == 0 {
            return Err(CliError::flag("--threads", "must be at least 1"));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .map_err(|e| CliError::flag("--threads", e.to_string()))?;
    }
    let comm = crate::ddp::communicator()?;
    let quiet = args.quiet || !comm.is_root();
    let setup = crate::ddp::agree(comm.as_ref(), set_up(&args, quiet))?;
    crate::ddp::or_abort(comm.as_ref(), || train_prepared(&args, setup, &comm, quiet))
}

/// What every process sets up before training: the settings, the
/// checkpoint to resume from, the data, the memory estimate.
type Setup = (
    Settings,
    Option<(ResumeFrom, Checkpoint)>,
    Prepared,
    MemoryEstimate,
);

fn set_up(args: &TrainArgs, quiet: bool) -> Result<Setup> {
    let (settings, resume) = resolve_run(args)?;
    let saved_split: Option<Split> = resume
        .as_ref()
        .map(|(_, ck)| serde_json::from_value(ck.state["extra"]["split"].clone()))
        .transpose()
        .map_err(|e| {
            CliError::flag(
                "--resume",
                format!("the checkpoint's split is unreadable: {e}"),
            )
        })?;
    let prepared = prepare(&settings, saved_split, quiet)?;
    let memory = check_memory(&settings, &prepared)?;
    Ok((settings, resume, prepared, memory))
}

/// Trains on what [`set_up`] prepared; rank 0 (or the one process) writes
/// the run directory and prints.
fn train_prepared(
    args: &TrainArgs,
    (settings, resume, prepared, memory): Setup,
    comm: &std::sync::Arc<dyn downhill::train::Communicator>,
    quiet: bool,
) -> Result<i32> {
    let root = comm.is_root();
    let run = if root {
        open_run_dir(args, resume.as_ref().map(|(from, _)| from))?
    } else {
        RunDir::create(&crate::ddp::scratch_out(comm.as_ref()))?
    };
    let settings = crate::lr_find::auto_lr(settings, args, &prepared, &run)?;
    let mut trainer = build_trainer(&settings, &prepared, &run, quiet)?
        .with_interrupt(interrupt::install())
        .with_communicator(comm.clone());
    if let Some((from, ck)) = &resume {
        trainer.restore(ck, &from.checkpoint)?;
        if !quiet {
            println!(
                "resumed from {} at epoch {}",
                from.checkpoint.display(),
                trainer.epoch()
            );
        }
    }
    let (trainer_tb, tb) = crate::tensorboard::attach(args, &settings, &prepared, &run, trainer)?;
    let mut trainer = trainer_tb;
    if !quiet {
        print_model_line(&settings, &prepared, &trainer, &memory);
        if comm.size() > 1 {
            println!(
                "data-parallel: {} processes (MPI), each trains on 1/{} of every batch of {}",
                comm.size(),
                comm.size(),
                settings.batch_size
            );
        }
        println!(
            "writing {}/ (if interrupted, continue with: downhill train --resume {})",
            run.out.display(),
            run.out.display()
        );
    }
    let started = std::time::Instant::now();
    let val = (!prepared.val.is_empty()).then_some(&prepared.val as &dyn Dataset);
    let report = trainer.fit(&prepared.train, val)?;
    let seconds = started.elapsed().as_secs_f64();
    let interrupted = report.stopped_because == StopReason::Interrupted;
    let code = if interrupted {
        interrupt::EXIT_INTERRUPTED
    } else if report.stopped_because == StopReason::Divergence {
        1
    } else {
        0
    };
    if !root {
        return Ok(code);
    }
    trainer.model_mut().eval();
    let metrics = report::final_metrics(trainer.model(), &prepared, &report)?;
    crate::tensorboard::finish(tb.as_ref(), &metrics, report.epochs_run);
    write_outputs(&run, &trainer, &prepared, &report, &metrics)?;
    let out = run.finish()?;
    report::print_summary(&prepared.spec, &report, &metrics, seconds, &out);
    if let Some(line) = crate::averaging_args::saved_line(&trainer) {
        println!("{line}");
    }
    if comm.size() > 1 {
        println!(
            "trained by {} processes (data-parallel over MPI)",
            comm.size()
        );
    }
    if interrupted {
        println!(
            "interrupted after epoch {} (step {}): saved {}/; continue with: downhill train --resume {}",
            report.epochs_run,
            report.steps,
            out.display(),
            out.display()
        );
    }
    Ok(code)
}

/// Refuses, before anything is allocated, a model whose training would not
/// fit in the memory available (parameters, gradients, optimizer state, one
/// batch's activations, the rollback snapshot and best-weight copy).
fn check_memory(s: &Settings, p: &Prepared) -> Result<MemoryEstimate> {
    let arch = &p.spec.architecture;
    let mut sizes = vec![arch.inputs];
    sizes.extend(&arch.hidden);
    sizes.push(arch.outputs);
    let batch = match s.batch_size {
        BatchSize::Full => p.train.len(),
        BatchSize::Size(n) => n.min(p.train.len().max(1)),
    };
    let mut plan = RunPlan::mlp(&sizes, downhill::DType::F32, batch, &s.optimizer);
    plan.rollback = s.on_divergence != "stop";
    plan.restore_best = s.early_stopping.is_some();
    let estimate = plan.estimate();
    if let Some(a) = available_memory() {
        estimate.check(a.bytes, &a.source)?;
    }
    Ok(estimate)
}

fn print_model_line(
    settings: &Settings,
    prepared: &Prepared,
    trainer: &Trainer,
    memory: &MemoryEstimate,
) {
    let arch = &prepared.spec.architecture;
    let mut widths = vec![arch.inputs.to_string()];
    widths.extend(arch.hidden.iter().map(|h| h.to_string()));
    widths.push(arch.outputs.to_string());
    println!(
        "model: MLP {} ({}{}), {} parameters; {} {}; {}; batch {}; up to {} epochs; about {} of memory",
        widths.join(" → "),
        arch.activation,
        if arch.dropout > 0.0 {
            format!(", dropout {}", arch.dropout)
        } else {
            String::new()
        },
        trainer.model().num_parameters(),
        settings.optimizer,
        settings.hyper,
        prepared.spec.loss,
        settings.batch_size,
        settings.epochs,
        format_bytes(memory.total())
    );
}

fn write_outputs(
    run: &RunDir,
    t: &Trainer,
    p: &Prepared,
    report: &Report,
    metrics: &Value,
) -> Result<()> {
    downhill::nn::save_safetensors(t.model(), run.file("model.safetensors"))?;
    downhill::nn::write_atomic(&run.file("model.json"), p.spec.to_json().as_bytes())?;
    let m = serde_json::to_string_pretty(metrics).expect("metrics serialize");
    downhill::nn::write_atomic(&run.file("metrics.json"), m.as_bytes())?;
    downhill::train::write_history_csv(
        &run.file("history.csv"),
        &report.history,
        loss_is_scaled(&p.spec),
    )?;
    report::plot_curves(run, &p.spec, report)?;
    Ok(())
}
