//! [`Trainer`]: the training loop.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::checkpoint::{list_checkpoints, Checkpoint};
use super::history::{write_history_csv, EpochRecord};
use super::metrics::evaluate;
use super::progress::Progress;
use super::stopping::{DivergencePolicy, EarlyStopping, Monitor, StopReason};
use crate::data::{BatchSize, DataLoader, Dataset};
use crate::loss::Loss;
use crate::nn::Module;
use crate::optim::{clip_grad_norm, clip_grad_value, Optimizer};
use crate::schedule::{LrScheduler, ReduceLROnPlateau};
use crate::{DType, Error, Gradients, Result, Tensor};

/// How the run is set up. `TrainConfig::default()` is 10 epochs of
/// shuffled mini-batches of 32, monitoring the validation loss.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Epoch budget.
    pub epochs: usize,
    /// Optimizer-step budget (stops mid-epoch when reached).
    pub max_steps: Option<usize>,
    /// Samples per batch: `Full` is full-batch gradient descent, 1 stochastic.
    pub batch_size: BatchSize,
    /// Reshuffle the training samples every epoch.
    pub shuffle: bool,
    /// Drop the last incomplete batch of each epoch.
    pub drop_last: bool,
    /// Seed of the loader's shuffling generator.
    pub seed: u64,
    /// Batches whose gradients are summed (each loss scaled by 1/k) per optimizer step.
    pub accumulate: usize,
    /// Clip the gradients' global 2-norm to this before each step.
    pub clip_norm: Option<f64>,
    /// Clip every gradient element to ±this before each step.
    pub clip_value: Option<f64>,
    /// The metric for "best", early stopping and ReduceLROnPlateau.
    pub monitor: Monitor,
    /// Stop when the monitored metric plateaus.
    pub early_stopping: Option<EarlyStopping>,
    /// What to do when a step's loss or gradient is not finite or explodes.
    pub divergence: DivergencePolicy,
    /// A batch loss above this multiple of the run's first loss counts as divergence.
    pub explode_factor: f64,
    /// An epoch whose mean training loss is above this multiple of the run's
    /// first loss counts as divergence (the loss is rising, not falling).
    pub epoch_explode_factor: f64,
    /// Where checkpoints go (`epoch-NNNNNN.safetensors`, `best.safetensors`); none if `None`.
    pub checkpoint_dir: Option<PathBuf>,
    /// Write a checkpoint every this many epochs (and always at the end).
    pub checkpoint_every: usize,
    /// How many epoch checkpoints to keep (the oldest are removed).
    pub keep_last: usize,
    /// Rewrite this CSV file with the history after every epoch.
    pub history_csv: Option<PathBuf>,
    /// Show a progress bar (only ever drawn on a terminal).
    pub progress: bool,
    /// Print a summary line to standard error every this many epochs
    /// (and for the last); 0 = never.
    pub log_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            max_steps: None,
            batch_size: BatchSize::Size(32),
            shuffle: true,
            drop_last: false,
            seed: 0,
            accumulate: 1,
            clip_norm: None,
            clip_value: None,
            monitor: Monitor::default(),
            early_stopping: None,
            divergence: DivergencePolicy::Stop,
            explode_factor: 1e4,
            epoch_explode_factor: 10.0,
            checkpoint_dir: None,
            checkpoint_every: 1,
            keep_last: 3,
            history_csv: None,
            progress: true,
            log_every: 0,
        }
    }
}

/// How the learning rate changes during the run.
pub enum Schedule {
    /// Constant.
    None,
    /// Stepped once per epoch (StepLR, CosineAnnealingLR, …).
    PerEpoch(Box<dyn LrScheduler>),
    /// Stepped once per optimizer step (OneCycleLR, CyclicLR, warm-ups counted in steps).
    PerStep(Box<dyn LrScheduler>),
    /// ReduceLROnPlateau, fed the monitored metric every epoch.
    Plateau(ReduceLROnPlateau),
}

/// Passed to [`Callback::on_step_end`].
#[derive(Clone, Debug)]
pub struct StepInfo {
    /// Epoch in progress, from 1.
    pub epoch: usize,
    /// Optimizer steps taken, this one included.
    pub step: usize,
    /// The step's loss (mean over its batches).
    pub loss: f64,
    /// Learning rate of the first group.
    pub lr: f64,
}

/// A callback's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop training (recorded as [`StopReason::Callback`]).
    Stop,
}

/// Hooks at the end of every step and epoch; either can stop training.
pub trait Callback: Send {
    /// After each optimizer step.
    fn on_step_end(&mut self, _info: &StepInfo) -> Control {
        Control::Continue
    }
    /// After each epoch, with its record.
    fn on_epoch_end(&mut self, _record: &EpochRecord) -> Control {
        Control::Continue
    }
}

/// The outcome of [`Trainer::fit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Why training ended.
    pub stopped_because: StopReason,
    /// Details: the divergent step and the learning rate to try, or the plateau.
    pub message: String,
    /// Epochs completed.
    pub epochs_run: usize,
    /// Optimizer steps taken.
    pub steps: usize,
    /// The epoch with the best monitored value (0 if none).
    pub best_epoch: usize,
    /// The best monitored value.
    pub best_value: Option<f64>,
    /// One record per epoch.
    pub history: Vec<EpochRecord>,
}

/// Counters and records of a run: what a checkpoint needs besides tensors.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct RunState {
    epoch: usize,
    step: usize,
    loader: Option<DataLoader>,
    history: Vec<EpochRecord>,
    best: Option<f64>,
    best_epoch: usize,
    bad_epochs: usize,
    rollbacks: usize,
    first_loss: Option<f64>,
    seconds: f64,
    stopped: Option<StopReason>,
    message: String,
}

/// Trains a model: forward, loss, backward, (guard, clip) update, repeated
/// over epochs of batches until the budget is used up, the monitored metric
/// plateaus, the run diverges, or a callback stops it.
pub struct Trainer {
    model: Box<dyn Module>,
    loss: Box<dyn Loss>,
    optimizer: Box<dyn Optimizer>,
    schedule: Schedule,
    config: TrainConfig,
    callbacks: Vec<Box<dyn Callback>>,
    state: RunState,
    best_weights: Option<Vec<(String, Tensor)>>,
    extra: Value,
}

fn deep_copy(t: &Tensor) -> Tensor {
    match t.dtype() {
        DType::F32 => Tensor::from_vec(t.to_vec::<f32>(), t.shape()),
        DType::F64 => Tensor::from_vec(t.to_vec::<f64>(), t.shape()),
    }
}

fn all_finite(t: &Tensor) -> bool {
    match t.dtype() {
        DType::F32 => t.with_data::<f32, _>(|d| d.iter().all(|x| x.is_finite())),
        DType::F64 => t.with_data::<f64, _>(|d| d.iter().all(|x| x.is_finite())),
    }
}

impl Trainer {
    /// A trainer for `model` with `loss` and `optimizer` (built over the
    /// model's trainable parameters).
    pub fn new(
        model: Box<dyn Module>,
        loss: Box<dyn Loss>,
        optimizer: Box<dyn Optimizer>,
        config: TrainConfig,
    ) -> Self {
        Trainer {
            model,
            loss,
            optimizer,
            schedule: Schedule::None,
            config,
            callbacks: vec![],
            state: RunState::default(),
            best_weights: None,
            extra: Value::Null,
        }
    }

    /// Sets the learning-rate schedule.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Adds a callback.
    pub fn with_callback(mut self, cb: Box<dyn Callback>) -> Self {
        self.callbacks.push(cb);
        self
    }

    /// Data saved in every checkpoint beside the training state (the CLI
    /// keeps the split, the scaler and the architecture there).
    pub fn set_extra(&mut self, extra: Value) {
        self.extra = extra;
    }

    /// What [`Trainer::set_extra`] stored (or a resumed checkpoint held).
    pub fn extra(&self) -> &Value {
        &self.extra
    }

    /// The model.
    pub fn model(&self) -> &dyn Module {
        self.model.as_ref()
    }

    /// The model, mutably (to switch modes).
    pub fn model_mut(&mut self) -> &mut dyn Module {
        self.model.as_mut()
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }

    /// The optimizer, mutably (schedules are built against it).
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer {
        self.optimizer.as_mut()
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The configuration, mutably (e.g. a larger epoch budget before resuming).
    pub fn config_mut(&mut self) -> &mut TrainConfig {
        &mut self.config
    }

    /// Epochs completed so far.
    pub fn epoch(&self) -> usize {
        self.state.epoch
    }

    /// The history so far.
    pub fn history(&self) -> &[EpochRecord] {
        &self.state.history
    }

    /// The complete training state: model tensors, optimizer and schedule
    /// state, generators, loader, counters, history, best weights, extra.
    pub fn checkpoint(&self) -> Checkpoint {
        let mut tensors: Vec<(String, Tensor)> = self
            .model
            .state_dict()
            .into_iter()
            .map(|(n, t)| (format!("model.{n}"), deep_copy(&t)))
            .collect();
        if let Some(best) = &self.best_weights {
            tensors.extend(best.iter().map(|(n, t)| (format!("best.{n}"), t.clone())));
        }
        let schedule = match &self.schedule {
            Schedule::None => json!({"kind": "none"}),
            Schedule::PerEpoch(s) => json!({"kind": "epoch", "state": s.state_dict()}),
            Schedule::PerStep(s) => json!({"kind": "step", "state": s.state_dict()}),
            Schedule::Plateau(s) => json!({"kind": "plateau", "state": s.state_dict()}),
        };
        let order: Vec<&String> = tensors.iter().map(|(n, _)| n).collect();
        let state = json!({
            "format": "downhill-checkpoint/1",
            "run": serde_json::to_value(&self.state).expect("run state serializes"),
            "optimizer": self.optimizer.state_dict(),
            "schedule": schedule,
            "generators": serde_json::to_value(self.model.named_generators()).expect("generators serialize"),
            "extra": self.extra,
            "tensor_order": order,
        });
        Checkpoint { tensors, state }
    }

    /// Restores a state taken by [`Trainer::checkpoint`] (from memory or a
    /// file) into this trainer, whose model, optimizer and schedule must have
    /// the same structure.
    ///
    /// **Errors** naming every mismatched tensor, or malformed state; the
    /// model is left untouched when the tensors do not match.
    pub fn restore(&mut self, ck: &Checkpoint, source: &std::path::Path) -> Result<()> {
        let bad = |m: String| Error::Parse {
            path: source.to_path_buf(),
            line: 0,
            column: 0,
            message: m,
        };
        if ck.state.get("format").and_then(Value::as_str) != Some("downhill-checkpoint/1") {
            return Err(bad("not a downhill training checkpoint".into()));
        }
        let own = self.model.state_dict();
        let mut problems = vec![];
        let mut pairs = vec![];
        for (name, t) in &own {
            match ck
                .tensors
                .iter()
                .find(|(n, _)| n.strip_prefix("model.") == Some(name))
            {
                None => problems.push(format!("missing {name}")),
                Some((_, s)) if s.shape() != t.shape() || s.dtype() != t.dtype() => {
                    problems.push(format!(
                        "{name}: checkpoint {:?} {:?}, model {:?} {:?}",
                        s.shape(),
                        s.dtype(),
                        t.shape(),
                        t.dtype()
                    ))
                }
                Some((_, s)) => pairs.push((t.clone(), s.clone())),
            }
        }
        for (n, _) in &ck.tensors {
            if let Some(m) = n.strip_prefix("model.") {
                if !own.iter().any(|(o, _)| o == m) {
                    problems.push(format!("unexpected {m}"));
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::StateMismatch {
                path: source.to_path_buf(),
                problems,
            });
        }
        let run: RunState = serde_json::from_value(ck.state["run"].clone())
            .map_err(|e| bad(format!("run state: {e}")))?;
        let gens: Vec<(String, crate::Generator)> =
            serde_json::from_value(ck.state["generators"].clone())
                .map_err(|e| bad(format!("generators: {e}")))?;
        self.optimizer.load_state_dict(&ck.state["optimizer"])?;
        let sched = &ck.state["schedule"];
        let kind = sched["kind"].as_str().unwrap_or("none");
        match (&mut self.schedule, kind) {
            (Schedule::None, "none") => {}
            (Schedule::PerEpoch(s), "epoch") | (Schedule::PerStep(s), "step") => {
                s.load_state_dict(&sched["state"])?
            }
            (Schedule::Plateau(s), "plateau") => s.load_state_dict(&sched["state"])?,
            _ => {
                return Err(bad(format!(
                    "the checkpoint's schedule ({kind}) differs from this run's"
                )))
            }
        }
        for (t, s) in pairs {
            t.assign_(&s);
        }
        self.model.load_generators(&gens)?;
        let best: Vec<(String, Tensor)> = ck
            .tensors
            .iter()
            .filter_map(|(n, t)| n.strip_prefix("best.").map(|m| (m.to_string(), t.clone())))
            .collect();
        self.best_weights = (!best.is_empty()).then_some(best);
        self.state = run;
        self.extra = ck.state["extra"].clone();
        Ok(())
    }

    /// Loads a checkpoint file and restores it ([`Trainer::restore`]); a
    /// following [`Trainer::fit`] continues the run bit-identically.
    ///
    /// **Errors** if the file cannot be read or does not match.
    pub fn resume_from(&mut self, path: &std::path::Path) -> Result<()> {
        let ck = Checkpoint::load(path)?;
        self.restore(&ck, path)
    }

    fn lr(&self) -> f64 {
        self.optimizer.lr(0)
    }

    fn monitored(&self, record: &EpochRecord) -> Option<f64> {
        let m = &self.config.monitor.metric;
        if m == "train_loss" {
            return Some(record.train_loss);
        }
        m.strip_prefix("val_")
            .and_then(|k| record.val.get(k).copied())
    }

    fn save_epoch_checkpoint(&self) -> Result<()> {
        let Some(dir) = &self.config.checkpoint_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.clone(),
            source: e,
        })?;
        let path = dir.join(format!("epoch-{:06}.safetensors", self.state.epoch));
        self.checkpoint().save(&path)?;
        let all = list_checkpoints(dir);
        let keep = self.config.keep_last.max(1);
        if all.len() > keep {
            for old in &all[..all.len() - keep] {
                let _ = std::fs::remove_file(old);
            }
        }
        Ok(())
    }

    /// Trains on `train`, evaluating on `val` after every epoch, until a stop
    /// condition; continues from the current state (a resumed checkpoint or
    /// an earlier `fit`), so raising `epochs` and calling again goes on.
    ///
    /// **Errors** on I/O failure writing checkpoints or the history, or if
    /// the monitored metric needs a validation set that is missing.
    pub fn fit(&mut self, train: &dyn Dataset, val: Option<&dyn Dataset>) -> Result<Report> {
        if rayon::current_thread_index().is_none() {
            // Run the loop on a pool thread: each parallel op then shares its
            // work with the other workers instead of being handed to the pool
            // and waited for (LeNet step, 1 thread: 273 → 319 steps/s).
            return rayon::scope(|_| self.fit_on_pool(train, val));
        }
        self.fit_on_pool(train, val)
    }

    fn fit_on_pool(&mut self, train: &dyn Dataset, val: Option<&dyn Dataset>) -> Result<Report> {
        let cfg = self.config.clone();
        if val.is_none() && cfg.monitor.metric.starts_with("val_") {
            if cfg.monitor.metric == "val_loss" {
                self.config.monitor = Monitor::new("train_loss");
            } else {
                return Err(Error::InvalidArgument {
                    name: "monitor".into(),
                    message: format!("{} needs a validation set", cfg.monitor.metric),
                });
            }
        }
        let accumulate = cfg.accumulate.max(1);
        let started = Instant::now();
        let base_seconds = self.state.seconds;
        if self.state.loader.is_none() {
            self.state.loader = Some(DataLoader::new(
                train.len(),
                cfg.batch_size,
                cfg.shuffle,
                cfg.drop_last,
                cfg.seed,
            ));
        }
        let per_epoch = self
            .state
            .loader
            .as_ref()
            .map_or(1, |l| l.num_batches().div_ceil(accumulate));
        let total = match cfg.max_steps {
            Some(s) => s.min(per_epoch * cfg.epochs) as u64,
            None => (per_epoch * cfg.epochs) as u64,
        };
        let progress = Progress::new(total, cfg.progress);
        progress.set_position(self.state.step as u64);
        self.state.stopped = None;
        let params = self.optimizer.params();

        'epochs: while self.state.epoch < cfg.epochs && self.state.stopped.is_none() {
            let snapshot = matches!(cfg.divergence, DivergencePolicy::Rollback { .. })
                .then(|| self.checkpoint());
            self.model.train();
            let batches: Vec<Vec<usize>> = self
                .state
                .loader
                .as_mut()
                .expect("loader set above")
                .epoch()
                .map(|b| b.to_vec())
                .collect();
            let epoch = self.state.epoch + 1;
            let (mut sum, mut count) = (0.0, 0usize);
            let mut pending: Option<Gradients> = None;
            let (mut micro, mut micro_loss) = (0usize, 0.0);
            let mut diverged: Option<String> = None;
            for (bi, idx) in batches.iter().enumerate() {
                let b = train.batch(idx);
                let out = self.model.forward(&b.inputs);
                let loss = self.loss.forward(&out, b.targets.as_target(), &[]);
                let lv = loss.item();
                let exploded = self
                    .state
                    .first_loss
                    .is_some_and(|f| lv > cfg.explode_factor * f.abs().max(1e-12));
                if !lv.is_finite() || exploded {
                    diverged = Some(format!("step {}: the loss is {lv:e}", self.state.step + 1));
                    break;
                }
                self.state.first_loss.get_or_insert(lv);
                let grads = if accumulate > 1 {
                    loss.mul_scalar(1.0 / accumulate as f64).backward()
                } else {
                    loss.backward()
                };
                match pending.as_mut() {
                    None => pending = Some(grads),
                    Some(p) => p.accumulate(grads),
                }
                micro += 1;
                micro_loss += lv;
                sum += lv;
                count += 1;
                if micro < accumulate && bi + 1 < batches.len() {
                    continue;
                }
                let grads = pending.take().expect("at least one batch");
                if let Some((_, g)) = grads.iter().find(|(_, g)| !all_finite(g)) {
                    diverged = Some(format!(
                        "step {}: a gradient of shape {:?} is not finite",
                        self.state.step + 1,
                        g.shape()
                    ));
                    break;
                }
                if let Some(v) = cfg.clip_value {
                    clip_grad_value(&params, &grads, v);
                }
                if let Some(n) = cfg.clip_norm {
                    clip_grad_norm(&params, &grads, n, 2.0, false)?;
                }
                self.optimizer.step(&grads);
                self.state.step += 1;
                if let Schedule::PerStep(s) = &mut self.schedule {
                    s.step(self.optimizer.as_mut());
                }
                let info = StepInfo {
                    epoch,
                    step: self.state.step,
                    loss: micro_loss / micro as f64,
                    lr: self.lr(),
                };
                (micro, micro_loss) = (0, 0.0);
                progress.inc();
                progress.message(format!(
                    "epoch {epoch}/{} loss {:.4} lr {:.2e}",
                    cfg.epochs, info.loss, info.lr
                ));
                for cb in &mut self.callbacks {
                    if cb.on_step_end(&info) == Control::Stop {
                        self.state.stopped = Some(StopReason::Callback);
                    }
                }
                if cfg.max_steps.is_some_and(|m| self.state.step >= m) {
                    self.state.stopped.get_or_insert(StopReason::Budget);
                }
                if self.state.stopped.is_some() {
                    break;
                }
            }
            if diverged.is_none() && count > 0 {
                let mean = sum / count as f64;
                if let Some(f) = self.state.first_loss {
                    if mean > cfg.epoch_explode_factor * f.abs().max(1e-12) {
                        diverged = Some(format!(
                            "epoch {epoch}: the mean training loss {mean:e} is over {}× the first loss {f:e}",
                            cfg.epoch_explode_factor
                        ));
                    }
                }
            }
            if let Some(what) = diverged {
                let lr = self.lr();
                match (cfg.divergence, snapshot) {
                    (DivergencePolicy::Rollback { max_retries }, Some(snap))
                        if self.state.rollbacks < max_retries =>
                    {
                        let rollbacks = self.state.rollbacks + 1;
                        self.restore(&snap, std::path::Path::new("<memory>"))?;
                        self.state.rollbacks = rollbacks;
                        for g in 0..self.optimizer.num_groups() {
                            let l = self.optimizer.lr(g);
                            self.optimizer.set_lr(g, l / 2.0);
                        }
                        if let Schedule::PerEpoch(s) | Schedule::PerStep(s) = &mut self.schedule {
                            let base: Vec<f64> = s.base_lrs().iter().map(|l| l / 2.0).collect();
                            let last = s.last_epoch();
                            s.reset(base, last);
                        }
                        self.state.message = format!(
                            "{what}; rolled back to the start of epoch {epoch} and halved the learning rate to {:e} ({rollbacks} of {max_retries})",
                            lr / 2.0
                        );
                        progress.set_position(self.state.step as u64);
                        progress.message(self.state.message.clone());
                        continue 'epochs;
                    }
                    _ => {
                        self.state.stopped = Some(StopReason::Divergence);
                        self.state.message = format!(
                            "{what}; the step was not applied. The learning rate {lr:e} is too large: try {:e}",
                            lr / 10.0
                        );
                        break 'epochs;
                    }
                }
            }
            if count == 0 {
                break;
            }
            self.state.epoch = epoch;
            let val_metrics = match val {
                Some(v) => {
                    self.model.eval();
                    let m = evaluate(self.model.as_ref(), self.loss.as_ref(), v);
                    self.model.train();
                    m
                }
                None => Default::default(),
            };
            let record = EpochRecord {
                epoch,
                step: self.state.step,
                lr: self.lr(),
                train_loss: sum / count as f64,
                val: val_metrics,
                seconds: base_seconds + started.elapsed().as_secs_f64(),
            };
            self.state.seconds = record.seconds;
            let monitored = self.monitored(&record);
            match &mut self.schedule {
                Schedule::PerEpoch(s) => s.step(self.optimizer.as_mut()),
                Schedule::Plateau(s) => {
                    if let Some(m) = monitored {
                        s.step(m, self.optimizer.as_mut())
                    }
                }
                _ => {}
            }
            let min_delta = cfg.early_stopping.as_ref().map_or(0.0, |e| e.min_delta);
            if let Some(m) = monitored {
                if cfg.monitor.improves(m, self.state.best, min_delta) {
                    self.state.best = Some(m);
                    self.state.best_epoch = epoch;
                    self.state.bad_epochs = 0;
                    if cfg.early_stopping.as_ref().is_some_and(|e| e.restore_best) {
                        self.best_weights = Some(
                            self.model
                                .state_dict()
                                .iter()
                                .map(|(n, t)| (n.clone(), deep_copy(t)))
                                .collect(),
                        );
                    }
                    if let Some(dir) = &cfg.checkpoint_dir {
                        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                            path: dir.clone(),
                            source: e,
                        })?;
                        crate::nn::save_safetensors(
                            self.model.as_ref(),
                            dir.join("best.safetensors"),
                        )?;
                    }
                } else {
                    self.state.bad_epochs += 1;
                }
            }
            if let Some(es) = &cfg.early_stopping {
                if self.state.bad_epochs >= es.patience.max(1) {
                    self.state.stopped.get_or_insert(StopReason::Plateau);
                    self.state.message = format!(
                        "{} did not improve for {} epochs (best {:.6} at epoch {})",
                        cfg.monitor.metric,
                        self.state.bad_epochs,
                        self.state.best.unwrap_or(f64::NAN),
                        self.state.best_epoch
                    );
                }
            }
            let val_text =
                monitored.map_or(String::new(), |m| format!(" {} {m:.4}", cfg.monitor.metric));
            progress.message(format!(
                "epoch {epoch}/{} loss {:.4}{val_text} lr {:.2e}",
                cfg.epochs, record.train_loss, record.lr
            ));
            if cfg.log_every > 0
                && (epoch % cfg.log_every == 0
                    || epoch == cfg.epochs
                    || self.state.stopped.is_some())
            {
                let mut line = format!(
                    "epoch {epoch:>w$}/{}  train_loss {:.4}",
                    cfg.epochs,
                    record.train_loss,
                    w = cfg.epochs.to_string().len()
                );
                for (k, v) in &record.val {
                    if matches!(k.as_str(), "loss" | "accuracy" | "f1_macro" | "rmse" | "r2") {
                        line.push_str(&format!("  val_{k} {v:.4}"));
                    }
                }
                line.push_str(&format!("  lr {:.3e}", record.lr));
                progress.println(line);
            }
            self.state.history.push(record.clone());
            if let Some(p) = &cfg.history_csv {
                write_history_csv(p, &self.state.history)?;
            }
            for cb in &mut self.callbacks {
                if cb.on_epoch_end(&record) == Control::Stop {
                    self.state.stopped.get_or_insert(StopReason::Callback);
                }
            }
            let last = self.state.stopped.is_some() || self.state.epoch >= cfg.epochs;
            if last || epoch % cfg.checkpoint_every.max(1) == 0 {
                self.save_epoch_checkpoint()?;
            }
        }
        progress.finish();
        let stopped = self.state.stopped.clone().unwrap_or(StopReason::Budget);
        if stopped == StopReason::Budget && self.state.message.is_empty() {
            self.state.message = match cfg.max_steps {
                Some(m) if self.state.step >= m => format!("step budget ({m} steps)"),
                _ => format!("epoch budget ({} epochs)", cfg.epochs),
            };
        }
        if let (Some(best), true) = (
            &self.best_weights,
            cfg.early_stopping.as_ref().is_some_and(|e| e.restore_best),
        ) {
            let own = self.model.state_dict();
            for (n, t) in &own {
                if let Some((_, b)) = best.iter().find(|(m, _)| m == n) {
                    t.assign_(b);
                }
            }
        }
        Ok(Report {
            stopped_because: stopped,
            message: self.state.message.clone(),
            epochs_run: self.state.epoch,
            steps: self.state.step,
            best_epoch: self.state.best_epoch,
            best_value: self.state.best,
            history: self.state.history.clone(),
        })
    }
}
