//! [`TensorBoard`]: the trainer callback that writes a run's event file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::hparams::{session_end_value, HParams, SessionStatus};
use super::writer::{scalar, wall_time, EventWriter};
use crate::train::config::{Callback, Control, FitInfo, GradientInfo, Report, StepInfo};
use crate::train::{EpochRecord, Metrics, StopReason};
use crate::{Result, Tensor};

/// Writes a run to a TensorBoard event file as it trains.
///
/// Tags (scalars unless said otherwise):
/// - every optimizer step (x = the step): `step/loss`, `step/lr`;
/// - every epoch (x = the epoch): `train/loss`, `val/<metric>` for each
///   validation metric, `epoch/lr`, `epoch/seconds` (the epoch's wall time,
///   evaluation included) and `epoch/samples_per_second`;
/// - at the end of the fit: `best/<monitored metric>`, and what
///   [`TensorBoard::log_metrics`] is given (the CLI logs `test/<metric>`);
/// - with [`TensorBoard::with_histograms`], every N epochs the histograms
///   `weights/<name>` and `gradients/<name>` (the gradient of the epoch's
///   last step);
/// - with [`TensorBoard::with_hparams`], the HParams plugin's experiment,
///   session-start and session-end summaries.
///
/// Events are buffered and written at every epoch end (and at the end), so a
/// crash leaves the file readable up to the last completed epoch.
///
/// The handle is cheap to clone: give one clone to the trainer and keep one
/// to log final metrics and to [`finish`](TensorBoard::finish). A write
/// error stops further logging (training goes on) and is returned by
/// `finish`.
///
/// ```
/// use downhill::data::{BatchSize, TensorDataset};
/// use downhill::loss::MseLoss;
/// use downhill::nn::{Linear, Module};
/// use downhill::optim::Sgd;
/// use downhill::train::tensorboard::HParams;
/// use downhill::train::{TensorBoard, TrainConfig, Trainer};
/// use downhill::{Generator, Tensor};
///
/// let xs: Vec<f32> = (0..32).map(|i| i as f32 / 16.0 - 1.0).collect();
/// let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x).collect();
/// let data = TensorDataset::regression(Tensor::from_vec(xs, &[32, 1]), &Tensor::from_vec(ys, &[32, 1]));
/// let model = Linear::new(1, 1, true, &mut Generator::new(0));
/// let opt = Sgd::default().lr(0.1).build(model.trainable_parameters())?;
/// let dir = std::env::temp_dir().join(format!("downhill-doc-tb-{}", std::process::id()));
/// let tb = TensorBoard::new(&dir)?
///     .with_hparams(HParams::new().with("lr", 0.1).metric("train/loss"))
///     .with_histograms(2, model.named_parameters());
/// let config = TrainConfig { epochs: 4, batch_size: BatchSize::Size(8), progress: false, ..TrainConfig::default() };
/// let mut trainer = Trainer::new(Box::new(model), Box::new(MseLoss::default()), Box::new(opt), config)
///     .with_callback(Box::new(tb.clone()));
/// trainer.fit(&data, None)?;
/// tb.finish()?;
/// assert!(tb.path().starts_with(&dir));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TensorBoard {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    writer: EventWriter,
    hparams: Option<HParams>,
    session_started: bool,
    histograms: Option<(usize, Vec<(String, Tensor)>)>,
    fit: Option<FitInfo>,
    last_seconds: f64,
    error: Option<crate::Error>,
}

impl TensorBoard {
    /// Logs into a new event file in `dir` (created if needed).
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) if the directory or file cannot be created.
    pub fn new(dir: impl AsRef<Path>) -> Result<TensorBoard> {
        let writer = EventWriter::create(dir.as_ref())?;
        Ok(TensorBoard {
            inner: Arc::new(Mutex::new(Inner {
                writer,
                hparams: None,
                session_started: false,
                histograms: None,
                fit: None,
                last_seconds: 0.0,
                error: None,
            })),
        })
    }

    /// Records `hparams` for the HParams plugin (written when the fit starts).
    pub fn with_hparams(self, hparams: HParams) -> Self {
        self.lock().hparams = Some(hparams);
        self
    }

    /// Every `every` epochs, histograms of each of `params` (a model's
    /// [`named_parameters`](crate::nn::Module::named_parameters): the handles
    /// see the optimizer's in-place updates) and of its gradient.
    ///
    /// # Panics
    /// If `every` is 0.
    pub fn with_histograms(self, every: usize, params: Vec<(String, Tensor)>) -> Self {
        assert!(
            every > 0,
            "TensorBoard::with_histograms: every must be at least 1"
        );
        self.lock().histograms = Some((every, params));
        self
    }

    /// The event file.
    pub fn path(&self) -> PathBuf {
        self.lock().writer.path().to_path_buf()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Logs `metrics` as `<prefix>/<name>` scalars at `step` (e.g. the test
    /// metrics at the last epoch) and flushes.
    pub fn log_metrics(&self, prefix: &str, metrics: &Metrics, step: usize) {
        let mut inner = self.lock();
        let values = metrics
            .iter()
            .map(|(k, v)| scalar(&format!("{prefix}/{k}"), *v))
            .collect();
        inner.writer.add_values(step as i64, values);
        inner.flush();
    }

    /// Flushes the file and reports the first write error, if any.
    ///
    /// # Errors
    /// [`Error::Io`](crate::Error::Io) naming the event file.
    pub fn finish(&self) -> Result<()> {
        let mut inner = self.lock();
        inner.flush();
        match inner.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Inner {
    fn flush(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.writer.flush() {
                self.error = Some(e);
            }
        }
    }

    fn start_session(&mut self) {
        if self.session_started {
            return;
        }
        self.session_started = true;
        let Some(hp) = &self.hparams else { return };
        let now = wall_time();
        let mut values: Vec<_> = hp.experiment_value(now).into_iter().collect();
        values.push(hp.session_start_value(now));
        self.writer.add_values(0, values);
    }

    fn histograms(&mut self, kind: &str, epoch: usize, tensor: &dyn Fn(&Tensor) -> Option<Tensor>) {
        let Some((every, params)) = &self.histograms else {
            return;
        };
        if !epoch.is_multiple_of(*every) {
            return;
        }
        let pending: Vec<(String, Vec<f64>)> = params
            .iter()
            .filter_map(|(name, p)| tensor(p).map(|t| (format!("{kind}/{name}"), t.to_vec_f64())))
            .collect();
        for (tag, values) in pending {
            self.writer.add_histogram(&tag, &values, epoch as i64);
        }
    }
}

impl Callback for TensorBoard {
    fn on_fit_start(&mut self, info: &FitInfo) {
        let mut inner = self.lock();
        inner.last_seconds = info.start_seconds;
        inner.fit = Some(info.clone());
        inner.start_session();
        inner.flush();
    }

    fn on_step_end(&mut self, info: &StepInfo) -> Control {
        let mut inner = self.lock();
        let step = info.step as i64;
        inner.writer.add_values(
            step,
            vec![scalar("step/loss", info.loss), scalar("step/lr", info.lr)],
        );
        Control::Continue
    }

    fn on_gradients(&mut self, info: &GradientInfo) {
        if !info.last_in_epoch {
            return;
        }
        let mut inner = self.lock();
        inner.histograms("gradients", info.epoch, &|p| info.grads.get(p).cloned());
    }

    fn on_epoch_end(&mut self, r: &EpochRecord) -> Control {
        let mut inner = self.lock();
        let seconds = (r.seconds - inner.last_seconds).max(0.0);
        inner.last_seconds = r.seconds;
        let samples = inner.fit.as_ref().map_or(0, |f| f.samples_per_epoch);
        let mut values = vec![scalar("train/loss", r.train_loss), scalar("epoch/lr", r.lr)];
        values.extend(r.val.iter().map(|(k, v)| scalar(&format!("val/{k}"), *v)));
        values.push(scalar("epoch/seconds", seconds));
        if seconds > 0.0 {
            values.push(scalar("epoch/samples_per_second", samples as f64 / seconds));
        }
        inner.writer.add_values(r.epoch as i64, values);
        inner.histograms("weights", r.epoch, &|p| Some(p.clone()));
        inner.flush();
        Control::Continue
    }

    fn on_fit_end(&mut self, report: &Report) {
        let mut inner = self.lock();
        let epoch = report.epochs_run as i64;
        if let (Some(best), Some(fit)) = (report.best_value, &inner.fit) {
            let tag = format!("best/{}", fit.monitor);
            inner.writer.add_scalar(&tag, best, epoch);
        }
        if inner.hparams.is_some() {
            let status = match report.stopped_because {
                StopReason::Divergence => SessionStatus::Failure,
                _ => SessionStatus::Success,
            };
            inner
                .writer
                .add_values(epoch, vec![session_end_value(status, wall_time())]);
        }
        inner.flush();
    }
}
