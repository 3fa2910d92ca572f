//! The one parameter group of the optimizers that are not elementwise
//! (Adafactor, Muon, L-BFGS): their config and parameters, the
//! [`LrTarget`](super::LrTarget) they share, and the plumbing of their state.

use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;

use super::state::{check_name, state_error};
use super::{Hyperparameters, OptimizerState};
use crate::{Result, Tensor};

/// A config and the parameters it updates.
#[derive(Clone, Debug)]
pub(crate) struct SingleGroup<C> {
    pub(crate) config: C,
    pub(crate) params: Vec<Tensor>,
}

impl<C: Hyperparameters + Serialize + DeserializeOwned> SingleGroup<C> {
    pub(crate) fn new(config: C, params: Vec<Tensor>) -> Self {
        SingleGroup { config, params }
    }

    /// The state document `{"optimizer", "config", "state"}` beside `tensors`.
    pub(crate) fn state_dict(
        &self,
        name: &str,
        tensors: Vec<(String, Tensor)>,
        state: Value,
    ) -> OptimizerState {
        OptimizerState {
            tensors,
            meta: serde_json::json!({
                "optimizer": name,
                "config": serde_json::to_value(&self.config).expect("configs serialize"),
                "state": state,
            }),
        }
    }

    /// The saved config and `"state"` of a document written by
    /// [`SingleGroup::state_dict`] (or format 1's, which has the same keys).
    ///
    /// **Errors** if another optimizer saved it or the config does not parse.
    pub(crate) fn read(&self, name: &str, meta: &Value) -> Result<(C, Value)> {
        check_name(name, meta)?;
        let config: C = serde_json::from_value(meta["config"].clone())
            .map_err(|e| state_error(name, format!("config: {e}")))?;
        Ok((config, meta["state"].clone()))
    }

    /// Checks that `n` per-parameter entries were saved.
    ///
    /// **Errors** naming both counts otherwise.
    pub(crate) fn check_count(&self, name: &str, n: usize) -> Result<()> {
        if n != self.params.len() {
            return Err(state_error(
                name,
                format!("{n} parameters saved, {} here", self.params.len()),
            ));
        }
        Ok(())
    }
}

/// `impl LrTarget` for an optimizer whose `group` is a [`SingleGroup`].
macro_rules! single_group_lr_target {
    ($ty:ty) => {
        impl $crate::optim::LrTarget for $ty {
            fn num_groups(&self) -> usize {
                1
            }
            fn lr(&self, _g: usize) -> f64 {
                $crate::optim::Hyperparameters::lr(&self.group.config)
            }
            fn set_lr(&mut self, _g: usize, lr: f64) {
                $crate::optim::Hyperparameters::set_lr(&mut self.group.config, lr)
            }
            fn momentum(&self, _g: usize) -> Option<f64> {
                $crate::optim::Hyperparameters::momentum(&self.group.config)
            }
            fn set_momentum(&mut self, _g: usize, m: f64) {
                $crate::optim::Hyperparameters::set_momentum(&mut self.group.config, m)
            }
        }
    };
}
pub(crate) use single_group_lr_target;
