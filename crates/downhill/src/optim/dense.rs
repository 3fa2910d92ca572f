//! Per-parameter state kept as named f64 vectors (the optimizers past
//! torch.optim: schedule-free, D-Adaptation, Prodigy, Lookahead), with the
//! parameters read and written in f64, and the tensors of their state.

use super::state::{state_error, take_tensor};
use super::OptimizerState;
use crate::{DType, Result, Tensor};

/// `torch.lerp(a, b, w)`: `a + w·(b − a)`, computed from the nearer end as
/// PyTorch does (so `w = 1` gives `b` exactly).
pub(crate) fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w.abs() < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

/// Writes `values` (f64) into `p` in its own dtype.
pub(crate) fn write_param(p: &Tensor, values: Vec<f64>) {
    p.assign_(&Tensor::from_vec(values, p.shape()));
}

/// Every parameter's slots (named f64 vectors), `None` until its first step.
#[derive(Clone, Debug)]
pub(crate) struct Slots {
    names: &'static [&'static str],
    per: Vec<Option<Vec<Vec<f64>>>>,
}

impl Slots {
    /// No state yet for `n` parameters, slots called `names`.
    pub(crate) fn new(names: &'static [&'static str], n: usize) -> Self {
        Slots {
            names,
            per: vec![None; n],
        }
    }

    /// Parameter `i`'s slots, `None` before its first step.
    pub(crate) fn get(&self, i: usize) -> Option<&[Vec<f64>]> {
        self.per[i].as_deref()
    }

    /// Parameter `i`'s slots to change, `None` before its first step.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut [Vec<f64>]> {
        self.per[i].as_deref_mut()
    }

    /// Parameter `i`'s slots, created by `init` (one vector per name) the first time.
    pub(crate) fn get_or_init(
        &mut self,
        i: usize,
        init: impl FnOnce() -> Vec<Vec<f64>>,
    ) -> &mut [Vec<f64>] {
        let names = self.names.len();
        self.per[i].get_or_insert_with(|| {
            let v = init();
            debug_assert_eq!(v.len(), names, "Slots::get_or_init: one vector per slot");
            v
        })
    }

    /// The tensors `"{i}.{slot}"` (f64; the parameter's shape when the slot
    /// has its size, else 1-D) and which parameters have state.
    pub(crate) fn tensors(&self, params: &[Tensor]) -> (Vec<(String, Tensor)>, Vec<bool>) {
        let mut tensors = Vec::new();
        let mut has = Vec::new();
        for (i, (p, st)) in params.iter().zip(&self.per).enumerate() {
            has.push(st.is_some());
            let Some(st) = st else { continue };
            for (name, v) in self.names.iter().zip(st) {
                let t = Tensor::from_vec(v.clone(), &slot_shape(p, v.len()));
                tensors.push((OptimizerState::param_key(i, name), t));
            }
        }
        (tensors, has)
    }

    /// The slots saved by [`Slots::tensors`]: `has[i]` says whether
    /// parameter `i` had state, `len(i, slot)` the length each slot must have.
    ///
    /// **Errors** if the counts differ, or a tensor is missing or of another shape.
    pub(crate) fn load(
        &self,
        optimizer: &str,
        state: &OptimizerState,
        has: &[bool],
        params: &[Tensor],
        len: &dyn Fn(usize, &str) -> usize,
    ) -> Result<Slots> {
        if has.len() != params.len() {
            return Err(state_error(
                optimizer,
                format!("{} parameters saved, {} here", has.len(), params.len()),
            ));
        }
        let mut per = Vec::with_capacity(params.len());
        for (i, (p, &h)) in params.iter().zip(has).enumerate() {
            if !h {
                per.push(None);
                continue;
            }
            let mut slots = Vec::with_capacity(self.names.len());
            for name in self.names {
                let key = OptimizerState::param_key(i, name);
                let shape = slot_shape(p, len(i, name));
                slots.push(take_tensor(optimizer, state, &key, &shape, DType::F64)?.to_vec_f64());
            }
            per.push(Some(slots));
        }
        Ok(Slots {
            names: self.names,
            per,
        })
    }
}

fn slot_shape(p: &Tensor, len: usize) -> Vec<usize> {
    if len == p.numel() {
        p.shape().to_vec()
    } else {
        vec![len]
    }
}

/// The `"has"` list of a state document: which parameters had state.
///
/// **Errors** if it is missing or not a list of booleans.
pub(crate) fn read_has(optimizer: &str, state: &serde_json::Value) -> Result<Vec<bool>> {
    serde_json::from_value(state["has"].clone())
        .map_err(|e| state_error(optimizer, format!("has: {e}")))
}

/// The scalar `key` of a state document.
///
/// **Errors** if it is missing or not a number.
pub(crate) fn read_f64(optimizer: &str, state: &serde_json::Value, key: &str) -> Result<f64> {
    state[key]
        .as_f64()
        .ok_or_else(|| state_error(optimizer, format!("{key}: missing or not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lerp_is_exact_at_both_ends() {
        assert_eq!(lerp(1.0, 3.0, 0.0), 1.0);
        assert_eq!(lerp(1.0, 3.0, 1.0), 3.0);
        assert_eq!(lerp(1.0, 3.0, 0.25), 1.5);
        assert_eq!(lerp(1.0, 3.0, -9.0), -17.0);
    }

    #[test]
    fn slots_round_trip_through_tensors() {
        let p = Tensor::zeros(&[2, 2]);
        let mut s = Slots::new(&["a", "b"], 2);
        s.get_or_init(1, || vec![vec![1.0, 2.0, 3.0, 4.0], vec![5.0]]);
        let (tensors, has) = s.tensors(&[p.clone(), p.clone()]);
        assert_eq!(has, [false, true]);
        assert_eq!(tensors[0].1.shape(), [2, 2]);
        assert_eq!(tensors[1].1.shape(), [1]);
        let st = OptimizerState {
            tensors,
            meta: serde_json::Value::Null,
        };
        let params = [p.clone(), p];
        let back = s
            .load("X", &st, &has, &params, &|_, n| {
                if n == "a" {
                    4
                } else {
                    1
                }
            })
            .unwrap();
        assert_eq!(back.get(1).unwrap()[1], [5.0]);
        assert!(back.get(0).is_none());
        assert!(s.load("X", &st, &[true, true], &params, &|_, _| 4).is_err());
        assert!(s.load("X", &st, &[true], &params, &|_, _| 4).is_err());
    }
}
