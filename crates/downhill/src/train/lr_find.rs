//! The learning-rate range test (L. Smith, "Cyclical Learning Rates for
//! Training Neural Networks", 2017) as `torch-lr-finder` 0.2.2's
//! `LRFinder.range_test` runs it: [`Trainer::lr_find`].

use std::path::Path;

use super::metrics::evaluate;
#[cfg(feature = "plot")]
use super::plot::{line_chart, Chart, Series};
use super::trainer::Trainer;
use crate::data::{DataLoader, Dataset};
use crate::optim::{clip_grad_norm, clip_grad_value};
use crate::{Error, Gradients, Result};

/// How the learning rate grows from `start_lr` to `end_lr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StepMode {
    /// Geometrically: `start · (end / start)^r` (torch-lr-finder's `"exp"`).
    #[default]
    Exp,
    /// Arithmetically: `start + r · (end − start)` (`"linear"`).
    Linear,
}

/// Settings of [`Trainer::lr_find`], named and defaulted as
/// `LRFinder.range_test` and `LRFinder.plot` name them.
///
/// ```
/// use downhill::train::LrFindConfig;
/// let c = LrFindConfig::default();
/// assert_eq!((c.end_lr, c.num_iter, c.smooth_f, c.diverge_th), (10.0, 100, 0.05, 5.0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LrFindConfig {
    /// The first learning rate; `None` keeps the optimizer's own (per group).
    pub start_lr: Option<f64>,
    /// The last learning rate.
    pub end_lr: f64,
    /// Steps of the sweep (at least 2).
    pub num_iter: usize,
    /// Geometric or arithmetic growth.
    pub step_mode: StepMode,
    /// Weight β of the newest loss in the smoothing, in `[0, 1)`; 0 turns it off.
    pub smooth_f: f64,
    /// Stop once the smoothed loss exceeds this multiple of the best one.
    pub diverge_th: f64,
    /// Batches whose gradients (of `loss / accumulation_steps`) add up to one step.
    pub accumulation_steps: usize,
    /// Points dropped at the start before suggesting (`plot(skip_start=10)`).
    pub skip_start: usize,
    /// Points dropped at the end before suggesting (`plot(skip_end=5)`).
    pub skip_end: usize,
}

impl Default for LrFindConfig {
    fn default() -> Self {
        LrFindConfig {
            start_lr: None,
            end_lr: 10.0,
            num_iter: 100,
            step_mode: StepMode::Exp,
            smooth_f: 0.05,
            diverge_th: 5.0,
            accumulation_steps: 1,
            skip_start: 10,
            skip_end: 5,
        }
    }
}

impl LrFindConfig {
    fn validate(&self) -> Result<()> {
        let bad = |name: &str, message: String| {
            Err(Error::InvalidArgument {
                name: format!("lr_find.{name}"),
                message,
            })
        };
        if let Some(s) = self.start_lr {
            if !(s.is_finite() && s > 0.0) {
                return bad("start_lr", format!("must be a finite number > 0, got {s}"));
            }
        }
        if !(self.end_lr.is_finite() && self.end_lr > 0.0) {
            return bad(
                "end_lr",
                format!("must be a finite number > 0, got {}", self.end_lr),
            );
        }
        if self.num_iter <= 1 {
            return bad(
                "num_iter",
                format!("must be larger than 1, got {}", self.num_iter),
            );
        }
        if !(0.0..1.0).contains(&self.smooth_f) {
            return bad(
                "smooth_f",
                format!("must be in [0, 1), got {}", self.smooth_f),
            );
        }
        if !(self.diverge_th.is_finite() && self.diverge_th > 0.0) {
            return bad(
                "diverge_th",
                format!("must be a finite number > 0, got {}", self.diverge_th),
            );
        }
        if self.accumulation_steps == 0 {
            return bad("accumulation_steps", "must be at least 1".into());
        }
        Ok(())
    }
}

/// Why the sweep ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepEnd {
    /// All `num_iter` steps ran.
    Completed,
    /// The smoothed loss passed `diverge_th` × the best one (its point is
    /// the last recorded, as torch-lr-finder records it).
    Diverged,
    /// The loss became NaN or infinite (not recorded; torch-lr-finder would
    /// go on recording NaN).
    NotFinite,
}

/// The outcome of [`Trainer::lr_find`]: the recorded sweep and the
/// suggested learning rate.
#[derive(Clone, Debug, PartialEq)]
pub struct LrFinding {
    /// The learning rate of each step (of parameter group 0).
    pub lrs: Vec<f64>,
    /// The (smoothed) loss recorded at each step.
    pub losses: Vec<f64>,
    /// Why the sweep ended.
    pub end: SweepEnd,
    /// Index into `lrs` of the steepest descent of the loss, or `None` with
    /// fewer than `skip_start + skip_end + 2` points.
    pub suggestion: Option<usize>,
    /// The settings of the sweep.
    pub config: LrFindConfig,
}

impl LrFinding {
    /// The suggested learning rate (see [`LrFinding::suggestion`]).
    pub fn suggested_lr(&self) -> Option<f64> {
        self.suggestion.map(|i| self.lrs[i])
    }

    /// The rule behind the suggestion, in one sentence.
    pub fn rule(&self) -> String {
        format!(
            "the learning rate where the smoothed loss falls fastest (steepest negative gradient over the sweep's steps, first {} and last {} points skipped)",
            self.config.skip_start, self.config.skip_end
        )
    }

    /// Draws the loss against the learning rate on a logarithmic lr axis
    /// (linear for a linear sweep), the suggestion marked, to `path`
    /// (`.png` or `.svg`).
    ///
    /// **Errors** on an unknown extension or a failed write.
    #[cfg(feature = "plot")]
    pub fn plot(&self, path: &Path, title: &str) -> Result<()> {
        let mut series = vec![Series::new(
            "loss (smoothed)",
            self.lrs
                .iter()
                .copied()
                .zip(self.losses.iter().copied())
                .collect(),
        )];
        if let Some(i) = self.suggestion {
            series.push(Series::new(
                format!("suggested lr {:.3e}", self.lrs[i]),
                vec![(self.lrs[i], self.losses[i])],
            ));
        }
        let chart = Chart {
            title,
            x_label: "learning rate",
            y_label: "loss",
            log_x: self.config.step_mode == StepMode::Exp,
            ..Chart::default()
        };
        line_chart(path, &chart, &series)
    }
}

/// torch-lr-finder's suggestion: the index (into the whole sweep) of the
/// most negative `np.gradient` of `losses[skip_start..len - skip_end]`.
pub(crate) fn steepest(losses: &[f64], skip_start: usize, skip_end: usize) -> Option<usize> {
    let n = losses.len();
    if n < skip_start + skip_end + 2 {
        return None;
    }
    let l = &losses[skip_start..n - skip_end];
    let m = l.len();
    let grad = |i: usize| match i {
        0 => l[1] - l[0],
        i if i == m - 1 => l[m - 1] - l[m - 2],
        i => (l[i + 1] - l[i - 1]) / 2.0,
    };
    let mut best = 0;
    for i in 1..m {
        // numpy's argmin: the first of equal minima; NaN never wins here.
        if grad(i) < grad(best) {
            best = i;
        }
    }
    Some(skip_start + best)
}

impl Trainer {
    /// The learning-rate range test of torch-lr-finder 0.2.2
    /// (`LRFinder.range_test` + `plot(suggest_lr=True)`).
    ///
    /// Step `i` of `n` trains one batch at
    /// `lr_i = start · (end / start)^(i / (n − 1))` (or `start + (end − start) ·
    /// i / (n − 1)` with [`StepMode::Linear`]) and records the loss before that
    /// step, smoothed as `s_i = β·loss_i + (1 − β)·s_{i−1}` (β = `smooth_f`,
    /// 0.05). The test stops early once `s_i > diverge_th · min_{j≤i} s_j`
    /// (5 × the best). The suggestion is torch-lr-finder's "steepest gradient":
    /// after dropping the first `skip_start` (10) and last `skip_end` (5)
    /// points, the lr where `np.gradient` of the smoothed losses (central
    /// differences over the index, i.e. over log lr for the exponential sweep)
    /// is most negative.
    ///
    /// `num_iter` steps over batches
    /// of `train` (cycling through epochs with the trainer's batch size,
    /// shuffling and seed), the learning rate of every parameter group
    /// swept from `start_lr` (or its own) to `end_lr`, the loss smoothed
    /// and the sweep stopped when it diverges. With `val`, the recorded loss
    /// is the mean validation loss after each step instead. Gradient
    /// clipping of the trainer's configuration applies.
    ///
    /// Afterwards the model, the optimizer (state and learning rates) and
    /// the run's counters are restored to what they were, so `fit` starts
    /// as if the test never ran.
    ///
    /// ```
    /// use downhill::data::{BatchSize, TensorDataset};
    /// use downhill::loss::MseLoss;
    /// use downhill::nn::{Linear, Module};
    /// use downhill::optim::Sgd;
    /// use downhill::train::{LrFindConfig, TrainConfig, Trainer};
    /// use downhill::{Generator, Tensor};
    ///
    /// let xs: Vec<f32> = (0..64).map(|i| i as f32 / 32.0 - 1.0).collect();
    /// let ys: Vec<f32> = xs.iter().map(|x| 3.0 * x - 1.0).collect();
    /// let data = TensorDataset::regression(Tensor::from_vec(xs, &[64, 1]), &Tensor::from_vec(ys, &[64, 1]));
    /// let model = Linear::new(1, 1, true, &mut Generator::new(0));
    /// let before = model.state_dict()[0].1.to_vec_f64();
    /// let opt = Sgd::default().lr(1e-4).build(model.trainable_parameters()).unwrap();
    /// let config = TrainConfig { batch_size: BatchSize::Size(16), progress: false, ..TrainConfig::default() };
    /// let mut trainer = Trainer::new(Box::new(model), Box::new(MseLoss::default()), Box::new(opt), config);
    /// let found = trainer.lr_find(&data, None, &LrFindConfig::default())?;
    /// let lr = found.suggested_lr().expect("enough points");
    /// assert!(lr > 1e-4 && lr < 10.0);
    /// assert_eq!(trainer.model().state_dict()[0].1.to_vec_f64(), before);
    /// assert_eq!(trainer.optimizer().lr(0), 1e-4);
    /// # Ok::<(), downhill::Error>(())
    /// ```
    ///
    /// **Errors** on settings outside torch-lr-finder's ranges
    /// ([`Error::InvalidArgument`] naming `lr_find.<setting>`), an empty
    /// training set, an optimizer that steps only with a closure (SAM,
    /// LBFGS, a Lookahead around them: [`Optimizer::needs_closure`](crate::optim::Optimizer::needs_closure)),
    /// or a failure restoring the state.
    pub fn lr_find(
        &mut self,
        train: &dyn Dataset,
        val: Option<&dyn Dataset>,
        config: &LrFindConfig,
    ) -> Result<LrFinding> {
        config.validate()?;
        if train.is_empty() {
            return Err(Error::InvalidArgument {
                name: "lr_find".into(),
                message: "the training set is empty".into(),
            });
        }
        if self.optimizer.needs_closure() {
            return Err(Error::InvalidArgument {
                name: "lr_find".into(),
                message: format!(
                    "{} re-evaluates the loss within a step, and the range test takes one gradient per step (as torch-lr-finder does); run it with the base optimizer",
                    self.optimizer.name()
                ),
            });
        }
        self.optimizer.train(); // the sweep steps from the training point
        let snapshot = self.checkpoint();
        let swept = self.lr_sweep(train, val, config);
        self.restore(&snapshot, Path::new("<lr_find snapshot>"))?;
        let (lrs, losses, end) = swept?;
        let suggestion = steepest(&losses, config.skip_start, config.skip_end);
        Ok(LrFinding {
            lrs,
            losses,
            end,
            suggestion,
            config: config.clone(),
        })
    }

    /// The sweep itself; leaves the model and optimizer trained.
    fn lr_sweep(
        &mut self,
        train: &dyn Dataset,
        val: Option<&dyn Dataset>,
        config: &LrFindConfig,
    ) -> Result<(Vec<f64>, Vec<f64>, SweepEnd)> {
        let groups = self.optimizer.num_groups();
        let base: Vec<f64> = (0..groups)
            .map(|g| config.start_lr.unwrap_or_else(|| self.optimizer.lr(g)))
            .collect();
        let cfg = self.config.clone();
        let mut loader = DataLoader::new(
            train.len(),
            cfg.batch_size,
            cfg.shuffle,
            cfg.drop_last,
            cfg.seed,
        );
        let mut queue: std::collections::VecDeque<Vec<usize>> = Default::default();
        let params = self.optimizer.params();
        let (mut lrs, mut losses) = (vec![], vec![]);
        let mut best = f64::INFINITY;
        let last = (config.num_iter - 1) as f64;
        for i in 0..config.num_iter {
            let r = i as f64 / last;
            for (g, &b) in base.iter().enumerate() {
                let lr = match config.step_mode {
                    StepMode::Exp => b * (config.end_lr / b).powf(r),
                    StepMode::Linear => b + r * (config.end_lr - b),
                };
                self.optimizer.set_lr(g, lr);
            }
            self.model.train();
            let mut total = 0.0;
            let mut pending: Option<Gradients> = None;
            for _ in 0..config.accumulation_steps {
                if queue.is_empty() {
                    queue.extend(loader.epoch().map(<[usize]>::to_vec));
                }
                let Some(idx) = queue.pop_front() else {
                    return Err(Error::InvalidArgument {
                        name: "lr_find".into(),
                        message: "the loader yields no batch (drop_last with too few samples)"
                            .into(),
                    });
                };
                let b = train.batch(&idx);
                let out = self.model.forward(&b.inputs);
                let loss = self
                    .loss
                    .forward(&out, b.targets.as_target(), &[])
                    .div_scalar(config.accumulation_steps as f64);
                total += loss.item();
                let grads = loss.backward();
                match pending.as_mut() {
                    None => pending = Some(grads),
                    Some(p) => p.accumulate(grads),
                }
            }
            let grads = pending.expect("accumulation_steps ≥ 1");
            if let Some(v) = cfg.clip_value {
                clip_grad_value(&params, &grads, v);
            }
            if let Some(n) = cfg.clip_norm {
                clip_grad_norm(&params, &grads, n, 2.0, false)?;
            }
            self.optimizer.step(&grads);
            let mut loss = match val {
                Some(v) => {
                    self.model.eval();
                    let m = evaluate(self.model.as_ref(), self.loss.as_ref(), v);
                    m.get("loss").copied().unwrap_or(f64::NAN)
                }
                None => total,
            };
            if !loss.is_finite() {
                return Ok((lrs, losses, SweepEnd::NotFinite));
            }
            lrs.push(self.optimizer.lr(0));
            if i == 0 {
                best = loss;
            } else {
                if config.smooth_f > 0.0 {
                    let prev = *losses.last().expect("a point per earlier step");
                    loss = config.smooth_f * loss + (1.0 - config.smooth_f) * prev;
                }
                if loss < best {
                    best = loss;
                }
            }
            losses.push(loss);
            if loss > config.diverge_th * best {
                return Ok((lrs, losses, SweepEnd::Diverged));
            }
        }
        Ok((lrs, losses, SweepEnd::Completed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steepest_is_numpys_gradient_argmin() {
        // np.gradient([5, 4, 2, 1.5, 1.4]) = [-1, -1.5, -1.25, -0.3, -0.1]
        let l = [5.0, 4.0, 2.0, 1.5, 1.4];
        assert_eq!(steepest(&l, 0, 0), Some(1));
        // Skipping shifts the window but indexes the whole sweep.
        assert_eq!(steepest(&l, 2, 0), Some(2));
        assert_eq!(steepest(&l, 2, 2), None);
        assert_eq!(steepest(&[1.0, 1.0, 1.0], 0, 0), Some(0));
    }

    #[test]
    fn settings_outside_the_ranges_are_errors() {
        let bad = [
            LrFindConfig {
                num_iter: 1,
                ..Default::default()
            },
            LrFindConfig {
                smooth_f: 1.0,
                ..Default::default()
            },
            LrFindConfig {
                end_lr: f64::NAN,
                ..Default::default()
            },
            LrFindConfig {
                start_lr: Some(0.0),
                ..Default::default()
            },
            LrFindConfig {
                accumulation_steps: 0,
                ..Default::default()
            },
        ];
        for c in bad {
            assert!(
                matches!(c.validate(), Err(Error::InvalidArgument { .. })),
                "{c:?}"
            );
        }
        assert!(LrFindConfig::default().validate().is_ok());
    }
}
