//! Weight averaging as `torch.optim.swa_utils.AveragedModel` does it:
//! stochastic weight averaging (Izmailov et al., 2018) and an exponential
//! moving average of the weights.

use super::check;
use super::dense::{lerp, write_param};
use crate::{Result, Tensor};

/// How [`AveragedModel`] averages.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Averaging {
    /// SWA, equal weights (`get_swa_multi_avg_fn`): W̄ ← lerp(W̄, W, 1/(n+1)).
    Swa,
    /// EMA (`get_ema_multi_avg_fn(decay)`): W̄ ← lerp(W̄, W, 1 − decay).
    Ema {
        /// The decay, in [0, 1] (PyTorch's default 0.999).
        decay: f64,
    },
}

/// A running average of a model's parameters, `AveragedModel(model,
/// multi_avg_fn=…)` with `use_buffers=False`: the first
/// [`AveragedModel::update_parameters`] copies the weights (n = 0), every
/// later one averages them in — W̄ ← W̄ + w·(W − W̄) with w = 1/(n+1) (SWA)
/// or 1 − decay (EMA) — and n counts the updates. The averages are kept in
/// the parameters' dtype, as PyTorch's copy of the model is.
///
/// ```
/// use downhill::optim::{AveragedModel, Averaging};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![0.0f64], &[1]);
/// let mut swa = AveragedModel::new(&[w.clone()], Averaging::Swa).unwrap();
/// for v in [1.0, 2.0, 6.0] {
///     w.assign_(&Tensor::from_vec(vec![v], &[1]));
///     swa.update_parameters(&[w.clone()]);
/// }
/// assert_eq!(swa.averaged()[0].to_vec_f64(), [3.0]); // (1 + 2 + 6) / 3
/// assert_eq!(swa.n_averaged(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct AveragedModel {
    averaging: Averaging,
    averaged: Vec<Tensor>,
    n_averaged: u64,
}

impl AveragedModel {
    /// An average of `params` (their shapes and dtypes; values copied at the first update).
    ///
    /// **Errors** if an EMA decay is outside [0, 1].
    pub fn new(params: &[Tensor], averaging: Averaging) -> Result<Self> {
        if let Averaging::Ema { decay } = averaging {
            check(
                (0.0..=1.0).contains(&decay),
                "decay",
                format!("must be in [0, 1], got {decay}"),
            )?;
        }
        Ok(AveragedModel {
            averaging,
            averaged: params.iter().map(Tensor::detach).collect(),
            n_averaged: 0,
        })
    }

    /// Averages `params` (the model's, in the order given to [`AveragedModel::new`]) in.
    ///
    /// # Panics
    /// If their number or shapes differ from the averaged ones.
    #[track_caller]
    pub fn update_parameters(&mut self, params: &[Tensor]) {
        assert_eq!(
            params.len(),
            self.averaged.len(),
            "AveragedModel::update_parameters: {} parameters, {} averaged",
            params.len(),
            self.averaged.len()
        );
        let w = match self.averaging {
            Averaging::Swa => 1.0 / (self.n_averaged as f64 + 1.0),
            Averaging::Ema { decay } => 1.0 - decay,
        };
        for (avg, p) in self.averaged.iter().zip(params) {
            if self.n_averaged == 0 {
                avg.assign_(p);
                continue;
            }
            assert_eq!(
                avg.shape(),
                p.shape(),
                "AveragedModel::update_parameters: shapes differ"
            );
            let v: Vec<f64> = avg
                .to_vec_f64()
                .iter()
                .zip(p.to_vec_f64())
                .map(|(&a, m)| lerp(a, m, w))
                .collect();
            write_param(avg, v);
        }
        self.n_averaged += 1;
    }

    /// The averaged parameters.
    pub fn averaged(&self) -> &[Tensor] {
        &self.averaged
    }

    /// Updates averaged so far.
    pub fn n_averaged(&self) -> u64 {
        self.n_averaged
    }

    /// How it averages.
    pub fn averaging(&self) -> Averaging {
        self.averaging
    }

    /// Sets the averages and the update count (a checkpoint's).
    ///
    /// # Panics
    /// If the number or shapes of `values` differ from the averaged ones.
    #[track_caller]
    pub fn restore(&mut self, values: &[Tensor], n_averaged: u64) {
        assert_eq!(
            values.len(),
            self.averaged.len(),
            "AveragedModel::restore: {} values, {} averaged",
            values.len(),
            self.averaged.len()
        );
        for (a, v) in self.averaged.iter().zip(values) {
            assert_eq!(
                a.shape(),
                v.shape(),
                "AveragedModel::restore: shapes differ"
            );
            a.assign_(v);
        }
        self.n_averaged = n_averaged;
    }

    /// Copies the averages into `params` (to evaluate or save the averaged model).
    ///
    /// # Panics
    /// If their number or shapes differ.
    #[track_caller]
    pub fn copy_to(&self, params: &[Tensor]) {
        assert_eq!(
            params.len(),
            self.averaged.len(),
            "AveragedModel::copy_to: parameter counts differ"
        );
        for (p, a) in params.iter().zip(&self.averaged) {
            p.assign_(a);
        }
    }
}
