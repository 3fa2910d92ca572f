//! `downhill train`: an MLP on a CSV/NPY file or a built-in dataset, with a
//! run directory holding the model, its description, metrics, history,
//! checkpoints and loss curves.

use std::path::{Path, PathBuf};

use downhill::data::{
    split, BatchSize, CsvOptions, Dataset, Scaler, ScalerKind, Split, Table, TargetColumn, Task,
    TensorDataset,
};
use downhill::loss::Loss;
use downhill::nn::Module;
use downhill::schedule::ReduceLROnPlateau;
use downhill::train::{
    latest_checkpoint, Checkpoint, DivergencePolicy, EarlyStopping, Monitor, Report, Schedule,
    StopReason, TrainConfig, Trainer,
};
use downhill::DType;
use serde_json::{json, Value};

use crate::error::{CliError, Result};
use crate::opt_args::build_error;
use crate::report;
use crate::rundir::{default_out, RunDir};
use crate::settings::at_least_one;
pub use crate::settings::{Settings, TrainArgs};
use crate::source::load_table;
use crate::spec::{Architecture, ModelSpec};

/// The data of a run, split and scaled, and the model's description.
pub struct Prepared {
    pub split: Split,
    pub spec: ModelSpec,
    pub train: TensorDataset,
    pub val: TensorDataset,
    pub test: TensorDataset,
}

/// Standardization of regression targets (fitted on the training rows).
fn target_scaler(table: &Table, rows: &[usize]) -> Scaler {
    match &table.target {
        Some(TargetColumn::Values { values, width }) => {
            Scaler::fit(ScalerKind::Standard, values, *width, rows)
        }
        _ => Scaler::None,
    }
}

/// The table with its features and (regression) targets scaled as `spec` says.
pub fn scale_table(table: &Table, spec: &ModelSpec) -> Table {
    let mut t = table.clone();
    let d = t.num_features();
    spec.scaler.transform(&mut t.features, d);
    if let Some(TargetColumn::Values { values, width }) = &mut t.target {
        spec.target_scaler.transform(values, *width);
    }
    t
}

/// The rows `rows` of an already scaled table as an `f32` dataset.
pub fn dataset(scaled: &Table, rows: &[usize]) -> TensorDataset {
    TensorDataset::from_table(scaled, &scaled.features, rows, DType::F32, None)
}

fn default_loss(task: Task) -> &'static str {
    match task {
        Task::Classification => "CrossEntropyLoss",
        Task::Regression => "MSELoss",
    }
}

pub(crate) fn prepare(s: &Settings, saved_split: Option<Split>, quiet: bool) -> Result<Prepared> {
    let opts = CsvOptions {
        targets: s.target.clone(),
        task: s.task,
        ..CsvOptions::default()
    };
    let table = load_table(&s.data, &opts)?;
    let task = table.task.unwrap_or(Task::Regression);
    let classes = match &table.target {
        Some(TargetColumn::Classes { indices, .. }) => Some(indices.as_slice()),
        _ => None,
    };
    let split = match saved_split {
        Some(sp) => sp,
        None => split(table.rows, classes, s.val_split, s.test_split, s.seed)?,
    };
    if split.train.is_empty() || split.test.is_empty() {
        return Err(CliError::flag(
            "--data",
            format!(
                "{}: {} rows are too few to split into train/validation/test",
                s.data, table.rows
            ),
        ));
    }
    let d = table.num_features();
    let outputs = match &table.target {
        Some(TargetColumn::Classes { labels, .. }) => labels.len(),
        Some(TargetColumn::Values { width, .. }) => *width,
        None => unreachable!("training data always has a target"),
    };
    let loss = s.loss.clone().unwrap_or_else(|| default_loss(task).into());
    let spec = ModelSpec {
        format: "downhill-model/1".into(),
        task,
        architecture: Architecture {
            kind: "mlp".into(),
            inputs: d,
            hidden: s.hidden.clone(),
            outputs,
            activation: s.activation.clone(),
            dropout: s.dropout,
        },
        feature_names: table.feature_names.clone(),
        target_names: table.target_names.clone(),
        class_labels: table.class_labels().map(<[String]>::to_vec),
        scaler: Scaler::fit(s.scaler, &table.features, d, &split.train),
        target_scaler: target_scaler(&table, &split.train),
        loss,
        loss_options: Value::Object(s.loss_options.clone()),
    };
    if !quiet {
        let what = match &spec.class_labels {
            Some(l) => format!("{} classes", l.len()),
            None => format!("{outputs} target(s)"),
        };
        println!(
            "data: {} — {} rows, {d} features, target {} ({what}), {task}{}",
            s.data,
            table.rows,
            table.target_names.join(","),
            if table.task_inferred {
                " (inferred; set --task to override)"
            } else {
                ""
            }
        );
        println!(
            "split: {} train / {} validation / {} test{} (seed {})",
            split.train.len(),
            split.val.len(),
            split.test.len(),
            if classes.is_some() {
                ", stratified"
            } else {
                ""
            },
            s.seed
        );
    }
    let scaled = scale_table(&table, &spec);
    let train = dataset(&scaled, &split.train);
    let val = dataset(&scaled, &split.val);
    let test = dataset(&scaled, &split.test);
    Ok(Prepared {
        split,
        spec,
        train,
        val,
        test,
    })
}

/// The loss a model description names.
///
/// **Errors** naming `--loss` if it does not fit the task or its options are invalid.
pub fn build_loss(spec: &ModelSpec) -> Result<Box<dyn Loss>> {
    let classification_losses = ["CrossEntropyLoss", "MultiMarginLoss", "NLLLoss"];
    let is_class = classification_losses.contains(&spec.loss.as_str());
    if is_class != (spec.task == Task::Classification) {
        return Err(CliError::flag(
            "--loss",
            format!(
                "{} does not fit a {} target; use {}",
                spec.loss,
                spec.task,
                default_loss(spec.task)
            ),
        ));
    }
    downhill::loss::from_config(&spec.loss, &spec.loss_options).map_err(|e| match e {
        downhill::Error::InvalidArgument { name, message } => {
            CliError::flag(format!("--loss {name}"), message)
        }
        other => CliError::Lib(other),
    })
}

pub(crate) fn build_trainer(
    s: &Settings,
    p: &Prepared,
    run: &RunDir,
    quiet: bool,
) -> Result<Trainer> {
    let model = p.spec.architecture.build(s.seed);
    let mut opt =
        downhill::optim::from_config(&s.optimizer, &s.hyper, model.trainable_parameters())
            .map_err(|e| build_error(&s.optimizer, e))?;
    let loss = build_loss(&p.spec)?;
    let batches = match s.batch_size {
        BatchSize::Full => 1,
        BatchSize::Size(n) => p.train.len().div_ceil(n),
    };
    let steps_per_epoch = batches.div_ceil(s.accumulate);
    let schedule = match s.schedule.as_deref() {
        None => Schedule::None,
        Some("ReduceLROnPlateau") => Schedule::Plateau(plateau(s, opt.as_mut())?),
        Some(name) => {
            let mut params = Value::Object(s.sched.clone());
            let per_step = matches!(name, "OneCycleLR" | "CyclicLR");
            if name == "OneCycleLR"
                && params.get("total_steps").is_none()
                && params.get("epochs").is_none()
            {
                params["total_steps"] = json!(steps_per_epoch * s.epochs);
            }
            let sched = downhill::schedule::from_config(name, &params, opt.as_mut()).map_err(
                |e| match e {
                    downhill::Error::InvalidArgument {
                        name: what,
                        message,
                    } => {
                        let flag = if what == name {
                            "--schedule".to_string()
                        } else {
                            format!("--sched {}", what.trim_start_matches(&format!("{name}.")))
                        };
                        CliError::flag(flag, message)
                    }
                    other => CliError::Lib(other),
                },
            )?;
            if per_step {
                Schedule::PerStep(sched)
            } else {
                Schedule::PerEpoch(sched)
            }
        }
    };
    let config = TrainConfig {
        epochs: s.epochs,
        max_steps: s.max_steps,
        batch_size: s.batch_size,
        shuffle: true,
        drop_last: false,
        seed: s.seed,
        accumulate: s.accumulate,
        clip_norm: s.clip_norm,
        clip_value: None,
        monitor: Monitor::new(&s.monitor),
        early_stopping: s.early_stopping.map(EarlyStopping::new),
        divergence: if s.on_divergence == "stop" {
            DivergencePolicy::Stop
        } else {
            DivergencePolicy::Rollback { max_retries: 5 }
        },
        checkpoint_dir: Some(run.file("checkpoints")),
        checkpoint_every: s.checkpoint_every,
        keep_last: s.keep_checkpoints,
        history_csv: Some(run.file("history.csv")),
        progress: !quiet,
        log_every: if quiet {
            0
        } else {
            s.epochs.div_ceil(10).max(1)
        },
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(Box::new(model), loss, opt, config).with_schedule(schedule);
    t.set_extra(json!({"settings": s, "split": p.split}));
    Ok(t)
}

fn plateau(s: &Settings, opt: &mut dyn downhill::optim::Optimizer) -> Result<ReduceLROnPlateau> {
    let mut r = ReduceLROnPlateau::new(opt);
    let mode = Monitor::new(&s.monitor).mode;
    r = r.mode(match mode {
        downhill::train::Mode::Min => downhill::schedule::PlateauMode::Min,
        downhill::train::Mode::Max => downhill::schedule::PlateauMode::Max,
    });
    for (k, v) in &s.sched {
        let bad = || CliError::flag(format!("--sched {k}"), "must be a number ≥ 0");
        let x = v.as_f64().filter(|x| *x >= 0.0).ok_or_else(bad)?;
        r = match k.as_str() {
            "factor" if x < 1.0 => r.factor(x),
            "patience" => r.patience(x as usize),
            "cooldown" => r.cooldown(x as usize),
            "min_lr" => r.min_lr(x),
            "eps" => r.eps(x),
            "threshold" => r.threshold(x, downhill::schedule::ThresholdMode::Rel),
            "factor" => return Err(CliError::flag("--sched factor", "must be below 1")),
            _ => {
                return Err(CliError::flag(
                    format!("--sched {k}"),
                    "ReduceLROnPlateau takes factor, patience, cooldown, min_lr, eps, threshold (mode follows --monitor)",
                ))
            }
        };
    }
    Ok(r)
}

/// Where `--resume DIR` finds its checkpoint.
fn resume_checkpoint(dir: &Path) -> Result<PathBuf> {
    if dir.is_file() {
        return Ok(dir.to_path_buf());
    }
    latest_checkpoint(&dir.join("checkpoints"))
        .or_else(|| latest_checkpoint(dir))
        .ok_or_else(|| {
            CliError::flag(
                "--resume",
                format!(
                    "{}: no checkpoint found (expected checkpoints/epoch-*.safetensors)",
                    dir.display()
                ),
            )
        })
}

/// Runs `downhill train`; returns the process exit code (1 if training diverged).
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
    let quiet = args.quiet;
    let (settings, checkpoint) = match &args.resume {
        None => (Settings::resolve(&args)?, None),
        Some(dir) => {
            let fixed = [
                ("--data", args.data.is_some()),
                ("--target", args.target.is_some()),
                ("--hidden", args.hidden.is_some()),
                ("--optimizer", args.opt.optimizer.is_some()),
                ("--lr", args.opt.lr.is_some()),
                ("--batch-size", args.batch_size.is_some()),
                ("--seed", args.seed.is_some()),
                ("--schedule", args.schedule.is_some()),
            ];
            if let Some((flag, _)) = fixed.iter().find(|(_, given)| *given) {
                return Err(CliError::flag(
                    *flag,
                    "cannot be changed when resuming: the run's settings come from its checkpoint (--epochs, --max-steps, --early-stopping and --out can)",
                ));
            }
            let path = resume_checkpoint(dir)?;
            let ck = Checkpoint::load(&path)?;
            let mut s: Settings = serde_json::from_value(ck.state["extra"]["settings"].clone())
                .map_err(|e| {
                    CliError::flag(
                        "--resume",
                        format!(
                            "{}: not a checkpoint of `downhill train` ({e})",
                            path.display()
                        ),
                    )
                })?;
            if let Some(e) = args.epochs {
                s.epochs = at_least_one("--epochs", Some(e), 1)?;
            }
            s.max_steps = args.max_steps.or(s.max_steps);
            s.early_stopping = args.early_stopping.or(s.early_stopping);
            (s, Some((path, ck)))
        }
    };
    let saved_split: Option<Split> = checkpoint
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
    let out = args.out.clone().unwrap_or_else(default_out);
    let run = RunDir::create(&out)?;
    let settings = crate::lr_find::auto_lr(settings, &args, &prepared, &run)?;
    let mut trainer = build_trainer(&settings, &prepared, &run, quiet)?;
    if let Some((path, ck)) = &checkpoint {
        trainer.restore(ck, path)?;
        if !quiet {
            println!(
                "resumed from {} at epoch {}",
                path.display(),
                trainer.epoch()
            );
        }
    }
    if !quiet {
        let arch = &prepared.spec.architecture;
        let mut widths = vec![arch.inputs.to_string()];
        widths.extend(arch.hidden.iter().map(|h| h.to_string()));
        widths.push(arch.outputs.to_string());
        println!(
            "model: MLP {} ({}{}), {} parameters; {} {}; {}; batch {}; up to {} epochs",
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
            settings.epochs
        );
    }
    let started = std::time::Instant::now();
    let report = trainer.fit(&prepared.train, Some(&prepared.val))?;
    let seconds = started.elapsed().as_secs_f64();
    trainer.model_mut().eval();
    let metrics = report::final_metrics(trainer.model(), &prepared, &report)?;
    write_outputs(&run, &trainer, &prepared, &report, &metrics)?;
    let out = run.finish()?;
    if !quiet || report.stopped_because == StopReason::Divergence {
        report::print_summary(&prepared.spec, &report, &metrics, seconds, &out);
    }
    Ok(if report.stopped_because == StopReason::Divergence {
        1
    } else {
        0
    })
}

fn write_outputs(
    run: &RunDir,
    t: &Trainer,
    p: &Prepared,
    report: &Report,
    metrics: &Value,
) -> Result<()> {
    downhill::nn::save_safetensors(t.model(), run.file("model.safetensors"))?;
    let spec = serde_json::to_string_pretty(&p.spec).expect("spec serializes");
    downhill::nn::write_atomic(&run.file("model.json"), spec.as_bytes())?;
    let m = serde_json::to_string_pretty(metrics).expect("metrics serialize");
    downhill::nn::write_atomic(&run.file("metrics.json"), m.as_bytes())?;
    downhill::train::write_history_csv(&run.file("history.csv"), &report.history)?;
    report::plot_curves(run, &p.spec, report)?;
    Ok(())
}
