//! Weight averaging wired into the [`Trainer`]: the builder option, the
//! updates after each step or epoch, the swap of the averaged weights in at
//! the end of a run, and their checkpoint state.

use serde_json::{json, Value};

use super::averaging::{Averager, AveragingRestore, WeightAveraging, AVERAGED};
use super::stopping::StopReason;
use super::trainer::Trainer;
use crate::data::Dataset;
use crate::optim::{AveragedModel, Averaging};
use crate::schedule::{LrScheduler, SwaLR};
use crate::validate::{at_least, within};
use crate::{Result, Tensor};

impl Trainer {
    /// Keeps an average of the model's parameters during training: SWA
    /// ([`WeightAveraging::Swa`], once per epoch after its start, with an
    /// optional [`SwaLR`]) or an EMA ([`WeightAveraging::Ema`], after every
    /// step). Validation during training sees the trained weights. The
    /// average is saved in every checkpoint (tensors `averaged.{name}`; the
    /// document's `averaging` holds `kind`, `n_averaged` and SWALR's state)
    /// and restored on resume, bit-identically. When a run ends (any reason
    /// but an interrupt) and the average holds at least one update, the
    /// averaged weights replace the model's — after early stopping's best
    /// weights, if restored — and [`update_bn`](crate::nn::update_bn)
    /// re-estimates batch-norm statistics by one pass over the training data
    /// in order (batches of [`TrainConfig::batch_size`](super::TrainConfig),
    /// `drop_last` as configured): [`Trainer::model`] and
    /// [`Trainer::into_model`] then hand out the averaged model. A later
    /// [`Trainer::fit`] puts the trained weights back first and goes on.
    ///
    /// **Errors** if an EMA decay is outside [0, 1] or SWALR's `lr` is
    /// negative or not finite.
    ///
    /// ```
    /// use downhill::data::{BatchSize, TensorDataset};
    /// use downhill::loss::MseLoss;
    /// use downhill::nn::{Linear, Module};
    /// use downhill::optim::Sgd;
    /// use downhill::train::{SwaConfig, TrainConfig, Trainer, WeightAveraging};
    /// use downhill::{Generator, Tensor};
    ///
    /// let data = TensorDataset::regression(Tensor::ones(&[8, 1]), &Tensor::ones(&[8, 1]));
    /// let model = Linear::new(1, 1, true, &mut Generator::new(0));
    /// let opt = Sgd::default().lr(0.1).build(model.trainable_parameters()).unwrap();
    /// let config = TrainConfig { epochs: 6, batch_size: BatchSize::Size(4), progress: false, ..TrainConfig::default() };
    /// let mut t = Trainer::new(Box::new(model), Box::new(MseLoss::default()), Box::new(opt), config)
    ///     .with_averaging(WeightAveraging::Swa(SwaConfig::new(3).lr(0.05))).unwrap();
    /// t.fit(&data, None).unwrap();
    /// assert_eq!(t.averaged_model().unwrap().n_averaged(), 3); // epochs 4, 5, 6
    /// assert!(t.averaged_weights_in_use());
    /// ```
    pub fn with_averaging(mut self, averaging: WeightAveraging) -> Result<Self> {
        let how = match &averaging {
            WeightAveraging::Swa(c) => {
                if let Some(lr) = c.lr {
                    at_least("swa.lr", lr, 0.0)?;
                }
                Averaging::Swa
            }
            WeightAveraging::Ema { decay } => {
                within("ema.decay", *decay, "[0, 1]", (0.0..=1.0).contains(decay))?;
                Averaging::Ema { decay: *decay }
            }
        };
        let named = self.model.named_parameters();
        let params: Vec<Tensor> = named.iter().map(|(_, t)| t.clone()).collect();
        self.averaging = Some(Averager {
            config: averaging,
            names: named.into_iter().map(|(n, _)| n).collect(),
            model: AveragedModel::new(&params, how)?,
            swalr: None,
            raw: None,
        });
        Ok(self)
    }

    /// The running average, if [`Trainer::with_averaging`] set one.
    pub fn averaged_model(&self) -> Option<&AveragedModel> {
        self.averaging.as_ref().map(|a| &a.model)
    }

    /// The weight averaging, if [`Trainer::with_averaging`] set one.
    pub fn averaging(&self) -> Option<&WeightAveraging> {
        self.averaging.as_ref().map(|a| &a.config)
    }

    /// True while the model holds the averaged weights (after a run ended).
    pub fn averaged_weights_in_use(&self) -> bool {
        self.averaging.as_ref().is_some_and(|a| a.raw.is_some())
    }

    /// True once SWALR drives the learning rate: the trainer's own schedule
    /// is no longer stepped.
    pub(super) fn swalr_in_charge(&self) -> bool {
        self.averaging.as_ref().is_some_and(|a| a.swalr.is_some())
    }

    /// After an optimizer step: an EMA averages the new weights in.
    pub(super) fn average_after_step(&mut self) {
        if let Some(a) = &mut self.averaging {
            if let WeightAveraging::Ema { .. } = a.config {
                a.model.update_parameters(&self.model.parameters());
            }
        }
    }

    /// After epoch `epoch` (from 1): past SWA's start the weights are
    /// averaged in and SWALR (built at the first such epoch) steps. Returns
    /// true when SWALR took the place of the trainer's schedule.
    pub(super) fn average_after_epoch(&mut self, epoch: usize) -> bool {
        let Some(a) = &mut self.averaging else {
            return false;
        };
        let WeightAveraging::Swa(c) = &a.config else {
            return false;
        };
        if epoch <= c.start {
            return false;
        }
        a.model.update_parameters(&self.model.parameters());
        let Some(lr) = c.lr else {
            return false;
        };
        let opt = self.optimizer.as_mut();
        a.swalr
            .get_or_insert_with(|| SwaLR::new(opt, lr, c.anneal_epochs, c.anneal_strategy))
            .step(opt);
        true
    }

    /// At the end of a run: the averaged weights into the model, then the
    /// batch-norm statistics re-estimated on `train`.
    pub(super) fn swap_in_average(&mut self, train: &dyn Dataset) {
        if self.state.stopped == Some(StopReason::Interrupted) {
            return;
        }
        let Some(a) = &mut self.averaging else {
            return;
        };
        if a.raw.is_some() || a.model.n_averaged() == 0 {
            return;
        }
        let own = self.model.state_dict();
        a.raw = Some(own.iter().map(|(n, t)| (n.clone(), t.detach())).collect());
        a.model.copy_to(&self.model.parameters());
        let c = &self.config;
        let batches: Vec<Vec<usize>> =
            crate::data::DataLoader::new(train.len(), c.batch_size, false, c.drop_last, 0)
                .epoch()
                .map(<[usize]>::to_vec)
                .collect();
        let inputs = batches.iter().map(|b| train.batch(b).inputs);
        crate::nn::update_bn(self.model.as_mut(), inputs);
    }

    /// At the start of a run: the trained weights back, if the averaged
    /// ones were swapped in.
    pub(super) fn swap_out_average(&mut self) {
        let Some(raw) = self.averaging.as_mut().and_then(|a| a.raw.take()) else {
            return;
        };
        for ((_, t), (_, r)) in self.model.state_dict().iter().zip(&raw) {
            t.assign_(r);
        }
    }

    /// The averaged weights as checkpoint tensors, and the document's entry.
    pub(super) fn averaging_checkpoint(
        &self,
        copy: &dyn Fn(&Tensor) -> Tensor,
    ) -> Option<(Vec<(String, Tensor)>, Value)> {
        let a = self.averaging.as_ref()?;
        let tensors = a
            .names
            .iter()
            .zip(a.model.averaged())
            .map(|(n, t)| (format!("{AVERAGED}{n}"), copy(t)))
            .collect();
        let doc = json!({
            "kind": a.config.kind(),
            "n_averaged": a.model.n_averaged(),
            "swalr": a.swalr.as_ref().map(|s| s.state_dict()),
        });
        Some((tensors, doc))
    }

    /// Checks a checkpoint's averaged weights against this trainer's
    /// average: the problems found (for the mismatch error), or a restore
    /// to apply once everything else has been checked. A checkpoint without
    /// averaging restores to an empty average (averaging added on resume).
    pub(super) fn averaging_of(
        &self,
        tensors: &[(String, Tensor)],
        doc: &Value,
        problems: &mut Vec<String>,
    ) -> Option<AveragingRestore> {
        let a = self.averaging.as_ref()?;
        if doc.is_null() {
            return Some(AveragingRestore::default());
        }
        if doc["kind"].as_str() != Some(a.config.kind()) {
            problems.push(format!(
                "averaging: checkpoint {}, this run {}",
                doc["kind"],
                a.config.kind()
            ));
            return None;
        }
        let mut values = vec![];
        for (name, own) in a.names.iter().zip(a.model.averaged()) {
            let key = format!("{AVERAGED}{name}");
            match tensors.iter().find(|(n, _)| *n == key) {
                None => problems.push(format!("missing {key}")),
                Some((_, t)) if t.shape() != own.shape() => problems.push(format!(
                    "{key}: checkpoint {:?}, model {:?}",
                    t.shape(),
                    own.shape()
                )),
                Some((_, t)) => values.push(t.clone()),
            }
        }
        let Some(n) = doc["n_averaged"].as_u64() else {
            problems.push("averaging: n_averaged is missing".into());
            return None;
        };
        Some(AveragingRestore {
            values,
            n_averaged: n,
            swalr: doc["swalr"].clone(),
        })
    }

    /// Applies a checked [`AveragingRestore`].
    ///
    /// # Errors
    /// If SWALR's saved state is malformed.
    pub(super) fn restore_averaging(&mut self, r: AveragingRestore) -> Result<()> {
        let lrs: Vec<f64> = (0..self.optimizer.num_groups())
            .map(|g| self.optimizer.lr(g))
            .collect();
        let Some(a) = &mut self.averaging else {
            return Ok(());
        };
        a.raw = None;
        if r.n_averaged == 0 || r.values.is_empty() {
            let fresh = AveragedModel::new(a.model.averaged(), a.model.averaging())?;
            a.model = fresh;
            a.swalr = None;
            return Ok(());
        }
        a.model.restore(&r.values, r.n_averaged);
        a.swalr = match (&a.config, r.swalr.is_null()) {
            (WeightAveraging::Swa(c), false) => {
                let lr = c.lr.unwrap_or(0.0);
                let mut probe = crate::schedule::Lrs::new(lrs, None);
                let mut s = SwaLR::new(&mut probe, lr, c.anneal_epochs, c.anneal_strategy);
                s.load_state_dict(&r.swalr)?;
                Some(s)
            }
            _ => None,
        };
        Ok(())
    }
}
