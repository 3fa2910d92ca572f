//! [`Trainer`]: what a run holds (model, loss, optimizer, configuration,
//! counters) and how it is built; the loop is [`Trainer::fit`] (in `fit.rs`).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::comm::{Communicator, SingleProcess};
use super::config::{Callback, Schedule, TrainConfig};
use super::data_parallel::{GradientReducer, DEFAULT_BUCKET_BYTES};
use super::history::EpochRecord;
use super::stopping::StopReason;
use super::update::{LocalReducer, Reducer};
use crate::data::DataLoader;
use crate::loss::Loss;
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::Tensor;

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

/// Where an interrupted epoch stopped, saved in the checkpoint so a resumed
/// run continues with the next batch of the same epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct PartialEpoch {
    /// The loader as it was before the epoch drew its order.
    pub(super) loader: DataLoader,
    /// Batches of the epoch already trained on.
    pub(super) batches_done: usize,
    /// Their loss sum.
    pub(super) loss_sum: f64,
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
    /// That file while its sync and rename still run (see
    /// [`Trainer::finish_pending_write`]).
    pub(super) pending_write: Option<crate::file::PendingWrite>,
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
            pending_write: None,
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
    /// returns a [`Report`](super::Report) with [`StopReason::Interrupted`]. A later
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
}
