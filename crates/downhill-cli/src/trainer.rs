//! The [`Trainer`] a run's settings describe: the model, optimizer, loss,
//! schedule and training configuration of `downhill train` (and of the
//! range test of `downhill lr-find`, which trains the same way).

use downhill::data::{BatchSize, Dataset};
use downhill::nn::Module;
use downhill::schedule::ReduceLROnPlateau;
use downhill::train::{DivergencePolicy, EarlyStopping, Monitor, Schedule, TrainConfig, Trainer};
use serde_json::{json, Value};

use crate::error::{CliError, Result};
use crate::opt_args::build_error;
use crate::prepare::{build_loss, loss_is_scaled, Prepared};
use crate::rundir::RunDir;
use crate::settings::Settings;

/// The trainer of settings `s` on the prepared data `p`: checkpoints and
/// history under `run`, progress bar and log lines unless `quiet`.
///
/// # Errors
///
/// A [`CliError`] naming the flag when the optimizer or schedule rejects
/// its settings.
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
        loss_is_scaled: loss_is_scaled(&p.spec),
        progress: !quiet,
        log_every: if quiet {
            0
        } else {
            s.epochs.div_ceil(10).max(1)
        },
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(Box::new(model), loss, opt, config).with_schedule(schedule);
    if let Some(a) = &s.averaging {
        t = t.with_averaging(a.to_library())?;
    }
    t.set_extra(json!({"settings": s, "split": p.split}));
    Ok(t)
}

fn plateau(s: &Settings, opt: &mut dyn downhill::optim::Optimizer) -> Result<ReduceLROnPlateau> {
    // The mode follows --monitor unless --sched mode= says otherwise.
    let mut params = s.sched.clone();
    if !params.contains_key("mode") {
        let mode = match Monitor::new(&s.monitor).mode {
            downhill::train::Mode::Min => "min",
            downhill::train::Mode::Max => "max",
        };
        params.insert("mode".into(), json!(mode));
    }
    downhill::schedule::plateau_from_config(&Value::Object(params), opt).map_err(|e| match e {
        downhill::Error::InvalidArgument { name, message } => {
            let key = name.trim_start_matches("ReduceLROnPlateau.");
            CliError::flag(format!("--sched {key}"), message)
        }
        other => CliError::Lib(other),
    })
}
