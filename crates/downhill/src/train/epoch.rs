//! The epoch runner: the batches of one epoch, each forward, loss and
//! backward, an update every `accumulate` batches, then the per-step hooks
//! (schedule, progress, callbacks, budgets, interruption). It returns an
//! [`EpochSummary`]; every end-of-epoch decision reads that summary.

use std::sync::atomic::Ordering;

use super::checkpoint::latest_checkpoint;
use super::config::{Control, GradientInfo, Schedule, StepInfo};
use super::data_parallel::{any_process, shard_range};
use super::divergence::Guard;
use super::epoch_summary::EpochSummary;
use super::progress::Progress;
use super::stopping::StopReason;
use super::trainer::{PartialEpoch, Trainer};
use super::update::{apply_update, evaluate_step, mean_loss, Accumulator, Clip};
use crate::data::{Batch, DataLoader, Dataset};
use crate::{Gradients, Result, Tensor};

/// This rank's loss on its share of the global batch `batch`, weighted by
/// that share (`n_r / n`, so the ranks' losses sum to the batch mean), or
/// `None` if the share is empty. One process: the batch's loss, unweighted.
fn shard_loss(
    data: &dyn Dataset,
    batch: &[usize],
    rank: usize,
    size: usize,
    forward_loss: &mut dyn FnMut(&Batch) -> Tensor,
) -> Option<Tensor> {
    if size == 1 {
        return Some(forward_loss(&data.batch(batch)));
    }
    let mine = &batch[shard_range(batch.len(), rank, size)];
    if mine.is_empty() {
        return None;
    }
    let loss = forward_loss(&data.batch(mine));
    Some(loss.mul_scalar(mine.len() as f64 / batch.len() as f64))
}

/// What the runner needs besides the trainer: set up once per `fit`.
pub(super) struct EpochContext<'a> {
    pub(super) train: &'a dyn Dataset,
    pub(super) params: Vec<Tensor>,
    pub(super) progress: &'a Progress,
    /// The monitored metric of the last epoch, shown beside the step's loss.
    pub(super) last_val: String,
}

impl Trainer {
    /// The batches of the next epoch and the batch to start from: a fresh
    /// draw from the loader, or the rest of an interrupted epoch.
    fn epoch_batches(&mut self) -> (Vec<Vec<usize>>, DataLoader, usize, f64) {
        if let Some(p) = self.state.partial.take() {
            let mut loader = p.loader.clone();
            let batches = loader.epoch().map(|b| b.to_vec()).collect();
            self.state.loader = Some(loader);
            return (batches, p.loader, p.batches_done, p.loss_sum);
        }
        let loader = self.state.loader.as_mut().expect("fit sets the loader");
        let start = loader.clone();
        let batches = loader.epoch().map(|b| b.to_vec()).collect();
        (batches, start, 0, 0.0)
    }

    /// Runs one epoch (or the rest of an interrupted one).
    ///
    /// # Errors
    /// Only from clipping (see [`apply_update`]).
    pub(super) fn run_epoch(&mut self, ctx: &mut EpochContext<'_>) -> Result<EpochSummary> {
        let cfg = self.config.clone();
        let guard = Guard::from_config(&cfg);
        let clip = Clip {
            value: cfg.clip_value,
            norm: cfg.clip_norm,
        };
        let k = cfg.accumulate.max(1);
        self.model.train();
        let (batches, start_loader, first_batch, loss_sum) = self.epoch_batches();
        let epoch = self.state.epoch + 1;
        let mut summary = EpochSummary {
            epoch,
            loss_sum,
            batches: first_batch,
            diverged: None,
            unfinished: false,
        };
        let mut acc = Accumulator::new(k);
        let (rank, size) = (self.comm.rank(), self.comm.size());
        for bi in first_batch..batches.len() {
            let (lv, grads) = {
                let (model, loss_fn) = (&self.model, &self.loss);
                match shard_loss(ctx.train, &batches[bi], rank, size, &mut |b| {
                    loss_fn.forward(&model.forward(&b.inputs), b.targets.as_target(), &[])
                }) {
                    Some(loss) => (loss.item(), acc.backward(&loss)),
                    None => (0.0, Gradients::new()),
                }
            };
            acc.add(grads, lv);
            let last = bi + 1 == batches.len();
            if !acc.ready(last) {
                continue;
            }
            let step_batches: Vec<&[usize]> = batches[bi + 1 - acc.micro()..=bi]
                .iter()
                .map(Vec::as_slice)
                .collect();
            let (mut grads, mut losses) = acc.take();
            self.reducer.reduce_step(&mut grads, &mut losses);
            if let Some(what) = self.check_batch_losses(&guard, &losses, &mut summary) {
                summary.diverged = Some(what);
                break;
            }
            let step_loss = mean_loss(&losses);
            let (model, loss_fn, train) = (&self.model, &self.loss, ctx.train);
            let mut reevaluate = || {
                evaluate_step(&step_batches, k, &mut |idx| {
                    shard_loss(train, idx, rank, size, &mut |b| {
                        loss_fn.forward(&model.forward(&b.inputs), b.targets.as_target(), &[])
                    })
                })
            };
            let (callbacks, step) = (&mut self.callbacks, self.state.step + 1);
            let mut before_step = |g: &Gradients| {
                let info = GradientInfo {
                    epoch,
                    step,
                    last_in_epoch: last,
                    grads: g,
                };
                for cb in callbacks.iter_mut() {
                    cb.on_gradients(&info);
                }
            };
            let applied = apply_update(
                self.optimizer.as_mut(),
                &ctx.params,
                grads,
                step_loss,
                step,
                clip,
                self.reducer.as_mut(),
                &mut reevaluate,
                &mut before_step,
            )?;
            let step_loss = match applied {
                Ok(l) => l,
                Err(what) => {
                    summary.diverged = Some(what);
                    break;
                }
            };
            self.after_step(epoch, step_loss, ctx);
            if self.state.stopped.is_some() {
                if self.state.stopped == Some(StopReason::Interrupted) && !last {
                    summary.unfinished = true;
                    self.state.partial = Some(PartialEpoch {
                        loader: start_loader,
                        batches_done: bi + 1,
                        loss_sum: summary.loss_sum,
                    });
                }
                break;
            }
        }
        Ok(summary)
    }

    /// The divergence guard on each (reduced) micro-batch loss of a step, in
    /// order: the first that diverged, if one did; the ones before it are
    /// counted into `summary` (and the run's first loss is set).
    fn check_batch_losses(
        &mut self,
        guard: &Guard,
        losses: &[f64],
        summary: &mut EpochSummary,
    ) -> Option<String> {
        for &lv in losses {
            if let Some(what) = guard.batch_loss(self.state.step + 1, lv, self.state.first_loss) {
                return Some(what);
            }
            self.state.first_loss.get_or_insert(lv);
            summary.loss_sum += lv;
            summary.batches += 1;
        }
        None
    }

    /// The per-step hooks after an applied step: count it, step a per-step
    /// schedule, report it (progress bar, callbacks), and check the step
    /// budget and the interrupt flag.
    fn after_step(&mut self, epoch: usize, loss: f64, ctx: &EpochContext<'_>) {
        self.state.step += 1;
        self.average_after_step();
        let swalr = self.swalr_in_charge();
        if let (Schedule::PerStep(s), false) = (&mut self.schedule, swalr) {
            s.step(self.optimizer.as_mut());
        }
        let info = StepInfo {
            epoch,
            step: self.state.step,
            loss,
            lr: self.optimizer.lr(0),
        };
        ctx.progress.inc();
        if ctx.progress.visible() {
            ctx.progress.message(format!(
                "epoch {epoch}/{} loss {:.4}{} lr {:.1e}",
                self.config.epochs, info.loss, ctx.last_val, info.lr
            ));
        }
        let mut stop = [false, self.interrupted()];
        for cb in &mut self.callbacks {
            stop[0] |= cb.on_step_end(&info) == Control::Stop;
        }
        any_process(self.comm.as_ref(), &mut stop);
        if stop[0] {
            self.state.stopped = Some(StopReason::Callback);
        }
        if self.config.max_steps.is_some_and(|m| self.state.step >= m) {
            self.state.stopped.get_or_insert(StopReason::Budget);
        }
        if stop[1] {
            self.state.stopped.get_or_insert(StopReason::Interrupted);
        }
    }

    /// Writes the checkpoint of an interrupted epoch,
    /// `epoch-EEEEEE-step-SSSSSSSSS.safetensors` (E the epoch in progress), if
    /// a checkpoint directory is set. The name sorts after the previous
    /// epoch's checkpoint and before this epoch's, so the newest state is
    /// always [`latest_checkpoint`]; older files beyond `keep_last` go.
    ///
    /// # Errors
    /// On I/O failure.
    pub(super) fn save_partial_checkpoint(&mut self) -> Result<()> {
        let name = format!(
            "epoch-{:06}-step-{:09}.safetensors",
            self.state.epoch + 1,
            self.state.step
        );
        self.save_checkpoint_file(&name)
    }

    /// Where checkpoints go: the configured directory on rank 0; other ranks
    /// of a data-parallel run write nothing.
    pub(super) fn checkpoint_dir(&self) -> Option<&std::path::PathBuf> {
        self.config
            .checkpoint_dir
            .as_ref()
            .filter(|_| self.comm.is_root())
    }

    /// The report's message for an interrupted run: where it stopped and
    /// where its checkpoint is.
    pub(super) fn interrupted_message(&self) -> String {
        let at = format!(
            "interrupted after step {} (epoch {}{})",
            self.state.step,
            self.state.epoch + usize::from(self.state.partial.is_some()),
            if self.state.partial.is_some() {
                ", in progress"
            } else {
                ""
            }
        );
        match self
            .config
            .checkpoint_dir
            .as_deref()
            .and_then(latest_checkpoint)
        {
            Some(p) => format!("{at}; checkpoint {}", p.display()),
            None => format!("{at}; no checkpoint written (no checkpoint directory)"),
        }
    }

    /// Whether the interrupt flag (see [`Trainer::with_interrupt`]) is set.
    pub(super) fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchSize, TensorDataset};
    use crate::loss::MseLoss;
    use crate::nn::{Linear, Module};
    use crate::optim::Sgd;
    use crate::train::TrainConfig;
    use crate::Generator;

    fn line_data(n: usize) -> TensorDataset {
        let xs: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
        let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x + 1.0).collect();
        TensorDataset::regression(
            Tensor::from_vec(xs, &[n, 1]),
            &Tensor::from_vec(ys, &[n, 1]),
        )
    }

    fn trainer(batch: usize, accumulate: usize) -> Trainer {
        let model = Linear::new(1, 1, true, &mut Generator::new(1));
        let opt = Sgd::default()
            .lr(0.1)
            .build(model.trainable_parameters())
            .unwrap();
        let config = TrainConfig {
            batch_size: BatchSize::Size(batch),
            accumulate,
            shuffle: false,
            progress: false,
            ..TrainConfig::default()
        };
        let mut t = Trainer::new(
            Box::new(model),
            Box::new(MseLoss::default()),
            Box::new(opt),
            config,
        );
        t.state.loader = Some(DataLoader::new(10, BatchSize::Size(batch), false, false, 0));
        t
    }

    fn run_one(t: &mut Trainer, data: &TensorDataset) -> EpochSummary {
        let progress = Progress::new(0, false);
        let mut ctx = EpochContext {
            train: data,
            params: t.optimizer.params(),
            progress: &progress,
            last_val: String::new(),
        };
        t.run_epoch(&mut ctx).unwrap()
    }

    #[test]
    fn an_epoch_sees_every_batch_and_steps_once_per_accumulation() {
        let data = line_data(10);
        let mut t = trainer(3, 2);
        let s = run_one(&mut t, &data);
        // 4 batches (3, 3, 3, 1), steps after batches 2 and 4.
        assert_eq!((s.batches, t.state.step, s.unfinished), (4, 2, false));
        assert!(s.diverged.is_none() && s.mean_loss().is_finite());
        assert_eq!(t.state.epoch, 0, "the runner does not close the epoch");
    }

    #[test]
    fn a_non_finite_loss_stops_the_epoch_before_its_step() {
        let xs = vec![0.0f32, f32::NAN, 1.0, 2.0];
        let data = TensorDataset::regression(
            Tensor::from_vec(xs, &[4, 1]),
            &Tensor::from_vec(vec![0.0f32; 4], &[4, 1]),
        );
        let mut t = trainer(1, 1);
        t.state.loader = Some(DataLoader::new(4, BatchSize::Size(1), false, false, 0));
        let s = run_one(&mut t, &data);
        assert_eq!(s.diverged.as_deref(), Some("step 2: the loss is NaN"));
        assert_eq!((s.batches, t.state.step), (1, 1));
    }

    #[test]
    fn an_interrupt_ends_the_epoch_after_the_step_and_records_where() {
        let data = line_data(10);
        let mut t = trainer(2, 1);
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        t = t.with_interrupt(flag);
        let s = run_one(&mut t, &data);
        assert_eq!((s.batches, t.state.step, s.unfinished), (1, 1, true));
        assert_eq!(t.state.stopped, Some(StopReason::Interrupted));
        let p = t.state.partial.clone().unwrap();
        assert_eq!((p.batches_done, p.loss_sum), (1, s.loss_sum));
        // The rest of the epoch: the four remaining batches.
        t.state.stopped = None;
        t.interrupt = None;
        let rest = run_one(&mut t, &data);
        assert_eq!((rest.batches, t.state.step, rest.unfinished), (5, 5, false));
        assert!(t.state.partial.is_none());
    }
}
