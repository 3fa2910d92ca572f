//! [`Trainer`]: the training loop.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::comm::{Communicator, SingleProcess};
use super::config::{Callback, FitInfo, Report, Schedule, TrainConfig};
use super::data_parallel::{
    broadcast_model, check_same_run, GradientReducer, DEFAULT_BUCKET_BYTES,
};
use super::divergence::Guard;
use super::epoch::{EpochContext, PartialEpoch};
use super::history::EpochRecord;
use super::progress::Progress;
use super::stopping::{Monitor, StopReason};
use super::update::{LocalReducer, Reducer};
use crate::data::{DataLoader, Dataset};
use crate::loss::Loss;
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::{Error, Result, Tensor};

/// Counters and records of a run: what a checkpoint needs besides tensors.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct RunState {
    pub(super) epoch: usize,
    pub(super) step: usize,
    pub(super) loader: Option<DataLoader>,
    pub(super) history: Vec<EpochRecord>,
    pub(super) best: Option<f64>,
    pub(super) best_epoch: usize,
    pub(super) bad_epochs: usize,
    pub(super) rollbacks: usize,
    pub(super) first_loss: Option<f64>,
    pub(super) seconds: f64,
    pub(super) stopped: Option<StopReason>,
    pub(super) message: String,
    /// Where an interrupted epoch stopped (absent in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) partial: Option<PartialEpoch>,
}

/// Trains a model: forward, loss, backward, (guard, clip) update, repeated
/// over epochs of batches until the budget is used up, the monitored metric
/// plateaus, the run diverges, or a callback stops it.
pub struct Trainer {
    pub(super) model: Box<dyn Module>,
    pub(super) loss: Box<dyn Loss>,
    pub(super) optimizer: Box<dyn Optimizer>,
    pub(super) schedule: Schedule,
    pub(super) config: TrainConfig,
    pub(super) callbacks: Vec<Box<dyn Callback>>,
    pub(super) state: RunState,
    pub(super) best_weights: Option<Vec<(String, Tensor)>>,
    pub(super) extra: Value,
    pub(super) reducer: Box<dyn Reducer>,
    pub(super) interrupt: Option<Arc<AtomicBool>>,
    /// The checkpoint file written last (a rollback point while current).
    pub(super) saved: Option<super::checkpoint::SavedAt>,
    pub(super) comm: Arc<dyn Communicator>,
    /// SWA or EMA of the weights ([`Trainer::with_averaging`]).
    pub(super) averaging: Option<super::averaging::Averager>,
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
            reducer: Box::new(LocalReducer),
            interrupt: None,
            saved: None,
            comm: Arc::new(SingleProcess),
            averaging: None,
        }
    }

    /// Sets the learning-rate schedule.
    pub fn with_schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }

    /// Stops the run when `flag` becomes true (a signal handler sets it):
    /// the trainer finishes the step in progress, writes a checkpoint if
    /// [`TrainConfig::checkpoint_dir`] is set (mid-epoch:
    /// `epoch-EEEEEE-step-SSSSSSSSS.safetensors`, which resumes with the
    /// epoch's next batch, bit-identically to an uninterrupted run), and
    /// returns a [`Report`] with [`StopReason::Interrupted`]. A later
    /// [`Trainer::fit`] (or a resume from the checkpoint) goes on; clear the
    /// flag first.
    ///
    /// ```
    /// use std::sync::{atomic::AtomicBool, Arc};
    /// use downhill::data::{BatchSize, TensorDataset};
    /// use downhill::loss::MseLoss;
    /// use downhill::nn::{Linear, Module};
    /// use downhill::optim::Sgd;
    /// use downhill::train::{StopReason, TrainConfig, Trainer};
    /// use downhill::{Generator, Tensor};
    ///
    /// let data = TensorDataset::regression(Tensor::ones(&[8, 1]), &Tensor::ones(&[8, 1]));
    /// let model = Linear::new(1, 1, true, &mut Generator::new(0));
    /// let opt = Sgd::default().lr(0.1).build(model.trainable_parameters()).unwrap();
    /// let config = TrainConfig { batch_size: BatchSize::Size(2), progress: false, ..TrainConfig::default() };
    /// let flag = Arc::new(AtomicBool::new(true)); // as if Ctrl-C came at once
    /// let mut t = Trainer::new(Box::new(model), Box::new(MseLoss::default()), Box::new(opt), config)
    ///     .with_interrupt(flag.clone());
    /// let report = t.fit(&data, None).unwrap();
    /// assert_eq!((report.stopped_because, report.steps), (StopReason::Interrupted, 1));
    /// ```
    pub fn with_interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    /// Sets where gradients and epoch summaries are combined across workers
    /// (default: [`LocalReducer`], a single process).
    pub fn with_reducer(mut self, reducer: Box<dyn Reducer>) -> Self {
        self.reducer = reducer;
        self
    }

    /// Trains data-parallel over `comm` (one process per rank, e.g.
    /// `MpiCommunicator` (feature `mpi`) under `mpirun -np N`):
    /// parameters and buffers are broadcast from rank 0 when [`Trainer::fit`]
    /// starts; each epoch's global batches (of
    /// [`TrainConfig::batch_size`] samples, whatever N is) are split over the
    /// ranks ([`shard_range`](super::shard_range)); the gradients are summed
    /// in buckets of 25 MiB ([`Trainer::with_bucket_mib`]) weighted by each
    /// rank's share of the batch, so every rank applies the update of the
    /// global batch mean; every decision (divergence and rollback, clipping,
    /// schedules, early stopping, stop requests, interrupts) is taken on
    /// reduced numbers, so all ranks act together; validation metrics are
    /// computed from counts and sums reduced over the ranks' shares of the
    /// validation set. Only rank 0 writes files (checkpoints, history,
    /// `best.safetensors`) and shows progress and log lines.
    ///
    /// The same N gives bit-identical results (sums in rank order); a
    /// different N agrees up to floating-point rounding (about 1e-6
    /// relative). Dropout masks are drawn per rank, so a model with dropout
    /// is only statistically equivalent across N.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use downhill::data::{BatchSize, TensorDataset};
    /// use downhill::loss::MseLoss;
    /// use downhill::nn::{Linear, Module};
    /// use downhill::optim::Sgd;
    /// use downhill::train::{SingleProcess, TrainConfig, Trainer};
    /// use downhill::{Generator, Tensor};
    ///
    /// let data = TensorDataset::regression(Tensor::ones(&[8, 1]), &Tensor::ones(&[8, 1]));
    /// let model = Linear::new(1, 1, true, &mut Generator::new(0));
    /// let opt = Sgd::default().lr(0.1).build(model.trainable_parameters()).unwrap();
    /// let config = TrainConfig { batch_size: BatchSize::Size(4), progress: false, ..TrainConfig::default() };
    /// let mut t = Trainer::new(Box::new(model), Box::new(MseLoss::default()), Box::new(opt), config)
    ///     .with_communicator(Arc::new(SingleProcess));
    /// assert_eq!(t.fit(&data, None).unwrap().steps, 20);
    /// ```
    pub fn with_communicator(mut self, comm: Arc<dyn Communicator>) -> Self {
        self.reducer = Box::new(GradientReducer::new(
            comm.clone(),
            self.optimizer.params(),
            DEFAULT_BUCKET_BYTES,
        ));
        self.comm = comm;
        self
    }

    /// Sets the size of the gradient buckets of a data-parallel run (see
    /// [`Trainer::with_communicator`]), in MiB (default 25, like PyTorch
    /// DDP's `bucket_cap_mb`).
    pub fn with_bucket_mib(mut self, mib: f64) -> Self {
        let bytes = (mib.max(0.0) * (1 << 20) as f64) as usize;
        self.reducer = Box::new(GradientReducer::new(
            self.comm.clone(),
            self.optimizer.params(),
            bytes,
        ));
        self
    }

    /// The communicator (a [`SingleProcess`] unless
    /// [`Trainer::with_communicator`] set one).
    pub fn communicator(&self) -> &dyn Communicator {
        self.comm.as_ref()
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

    /// The model, handed back after training (with the best weights when
    /// early stopping restored them).
    pub fn into_model(self) -> Box<dyn Module> {
        self.model
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
        self.check_monitor(val.is_some())?;
        self.check_memory(train)?;
        self.swap_out_average();
        self.start_data_parallel(train, val)?;
        let started = Instant::now();
        let base_seconds = self.state.seconds;
        let clock = || base_seconds + started.elapsed().as_secs_f64();
        let c = &self.config;
        let loader = self.state.loader.get_or_insert_with(|| {
            DataLoader::new(train.len(), c.batch_size, c.shuffle, c.drop_last, c.seed)
        });
        let per_epoch = loader.num_batches().div_ceil(c.accumulate.max(1));
        let total = c
            .max_steps
            .map_or(per_epoch * c.epochs, |s| s.min(per_epoch * c.epochs));
        let progress = Progress::new(total as u64, c.progress && self.comm.is_root());
        progress.set_position(self.state.step as u64);
        if self.state.stopped.take() == Some(StopReason::Interrupted) {
            self.state.message.clear();
        }
        let fit_info = FitInfo {
            samples_per_epoch: (loader.num_batches() * loader.batch_size()).min(train.len()),
            steps_per_epoch: per_epoch,
            epochs: c.epochs,
            start_epoch: self.state.epoch,
            start_step: self.state.step,
            start_seconds: base_seconds,
            monitor: c.monitor.metric.clone(),
        };
        for cb in &mut self.callbacks {
            cb.on_fit_start(&fit_info);
        }
        let guard = Guard::from_config(&self.config);
        let mut ctx = EpochContext {
            train,
            params: self.optimizer.params(),
            progress: &progress,
            last_val: String::new(),
        };
        // Train from the training point (schedule-free: y; a run resumed
        // from a checkpoint saved in eval mode, or a second fit, holds x).
        self.optimizer.train();
        while self.state.epoch < self.config.epochs && self.state.stopped.is_none() {
            let snapshot = self.rollback_snapshot();
            let mut summary = self.run_epoch(&mut ctx)?;
            self.reducer.reduce_epoch(&mut summary);
            if summary.diverged.is_none() && summary.batches > 0 {
                let first = self.state.first_loss;
                summary.diverged = guard.epoch_mean(summary.epoch, summary.mean_loss(), first);
            }
            if let Some(what) = &summary.diverged {
                if self.on_divergence(what, summary.epoch, snapshot, &progress)? {
                    continue;
                }
                break;
            }
            if summary.unfinished {
                self.save_partial_checkpoint()?;
                break;
            }
            if summary.batches == 0 {
                break;
            }
            self.end_epoch(&summary, val, &clock, &progress, &mut ctx.last_val)?;
        }
        progress.finish();
        let report = self.finish_run();
        self.swap_in_average(train);
        for cb in &mut self.callbacks {
            cb.on_fit_end(&report);
        }
        Ok(report)
    }

    /// A data-parallel run's start: every rank checks it was given the same
    /// run, then takes rank 0's parameters and buffers.
    fn start_data_parallel(&self, train: &dyn Dataset, val: Option<&dyn Dataset>) -> Result<()> {
        let batch = match self.config.batch_size {
            crate::data::BatchSize::Full => 0,
            crate::data::BatchSize::Size(n) => n,
        };
        let params: usize = self.model.state_dict().iter().map(|(_, t)| t.numel()).sum();
        check_same_run(
            self.comm.as_ref(),
            &[
                ("training samples", train.len() as f64),
                ("validation samples", val.map_or(0, |v| v.len()) as f64),
                ("model elements", params as f64),
                ("batch size", batch as f64),
                ("seed", self.config.seed as f64),
                ("accumulate", self.config.accumulate as f64),
                ("epochs done", self.state.epoch as f64),
                ("steps done", self.state.step as f64),
            ],
        )?;
        broadcast_model(self.model.as_ref(), self.comm.as_ref());
        Ok(())
    }

    /// A `val_` monitor needs a validation set; without one `val_loss` falls
    /// back to `train_loss`.
    fn check_monitor(&mut self, has_val: bool) -> Result<()> {
        let metric = &self.config.monitor.metric;
        if has_val || !metric.starts_with("val_") {
            return Ok(());
        }
        if metric == "val_loss" {
            self.config.monitor = Monitor::new("train_loss");
            return Ok(());
        }
        Err(Error::InvalidArgument {
            name: "monitor".into(),
            message: format!("{metric} needs a validation set"),
        })
    }

    /// The report of a run that ended: why, with the best weights put back
    /// when early stopping asks for them.
    fn finish_run(&mut self) -> Report {
        // The model a run leaves is the one to evaluate (schedule-free: x).
        self.optimizer.eval();
        let stopped = self.state.stopped.clone().unwrap_or(StopReason::Budget);
        if stopped == StopReason::Budget && self.state.message.is_empty() {
            self.state.message = match self.config.max_steps {
                Some(m) if self.state.step >= m => format!("step budget ({m} steps)"),
                _ => format!("epoch budget ({} epochs)", self.config.epochs),
            };
        }
        if stopped == StopReason::Interrupted {
            self.state.message = self.interrupted_message();
        }
        let restore = self
            .config
            .early_stopping
            .as_ref()
            .is_some_and(|e| e.restore_best);
        if let (Some(best), true) = (&self.best_weights, restore) {
            for (n, t) in &self.model.state_dict() {
                if let Some((_, b)) = best.iter().find(|(m, _)| m == n) {
                    t.assign_(b);
                }
            }
        }
        Report {
            stopped_because: stopped,
            message: self.state.message.clone(),
            epochs_run: self.state.epoch,
            steps: self.state.step,
            best_epoch: self.state.best_epoch,
            best_value: self.state.best,
            history: self.state.history.clone(),
        }
    }
}
