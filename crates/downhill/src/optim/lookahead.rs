//! Lookahead (Zhang et al., 2019) around any optimizer, as
//! `pytorch-optimizer` 4.1.0's `Lookahead` does it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dense::{lerp, read_has, write_param, Slots};
use super::state::{check_name, state_error};
use super::{check, LrTarget, Optimizer, OptimizerState};
use crate::{Gradients, Result, Tensor};

/// Lookahead's settings (`pytorch_optimizer.Lookahead`, `pullback_momentum
/// = "none"`): the base optimizer takes k fast steps, then
///
/// θ ← lerp(θ, φ, 1 − α) = φ + α(θ − φ);  φ ← θ
///
/// with φ the slow weights (the parameters' values when wrapped). Only the
/// parameters that had a gradient in the k-th step move.
///
/// ```
/// use downhill::optim::{Lookahead, Optimizer, Sgd};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
/// let base = Sgd::default().lr(0.1).build(vec![w.clone()]).unwrap();
/// let mut opt = Lookahead::default().k(5).wrap(Box::new(base)).unwrap();
/// for _ in 0..100 {
///     opt.step(&w.square().sum().backward());
/// }
/// assert!(w.to_vec_f64().iter().all(|v| v.abs() < 1e-3));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lookahead {
    /// Fast steps between slow updates (default 5).
    pub k: usize,
    /// α in [0, 1], how far the slow weights move toward the fast (default 0.5).
    pub alpha: f64,
}

impl Default for Lookahead {
    fn default() -> Self {
        Lookahead { k: 5, alpha: 0.5 }
    }
}

impl Lookahead {
    /// Sets `k`.
    pub fn k(mut self, v: usize) -> Self {
        self.k = v;
        self
    }
    /// Sets `alpha`.
    pub fn alpha(mut self, v: f64) -> Self {
        self.alpha = v;
        self
    }

    /// Lookahead around `base`, the slow weights starting at the parameters' values.
    ///
    /// **Errors** if `k` is 0 or `alpha` is outside [0, 1].
    pub fn wrap(self, base: Box<dyn Optimizer>) -> Result<LookaheadOptimizer> {
        check(self.k >= 1, "k", "must be a whole number ≥ 1")?;
        check(
            (0.0..=1.0).contains(&self.alpha),
            "alpha",
            format!("must be in [0, 1], got {}", self.alpha),
        )?;
        let params = base.params();
        let mut slow = Slots::new(&["slow_params"], params.len());
        for (i, p) in params.iter().enumerate() {
            slow.get_or_init(i, || vec![p.to_vec_f64()]);
        }
        Ok(LookaheadOptimizer {
            config: self,
            base,
            slow,
            counter: 0,
        })
    }
}

/// A base optimizer with [`Lookahead`]'s slow weights (kept in f64).
pub struct LookaheadOptimizer {
    config: Lookahead,
    base: Box<dyn Optimizer>,
    slow: Slots,
    counter: usize,
}

impl LookaheadOptimizer {
    /// The wrapped optimizer.
    pub fn base(&self) -> &dyn Optimizer {
        self.base.as_ref()
    }

    /// Counts a fast step; every k-th pulls the parameters with a gradient
    /// (`moved[i]`) toward the slow weights.
    fn after_step(&mut self, moved: &[bool]) {
        self.counter += 1;
        if self.counter < self.config.k {
            return;
        }
        self.counter = 0;
        let w = 1.0 - self.config.alpha;
        for (i, p) in self.base.params().iter().enumerate() {
            if !moved[i] {
                continue;
            }
            let slow = &mut self.slow.get_or_init(i, || vec![p.to_vec_f64()])[0];
            let theta: Vec<f64> = p
                .to_vec_f64()
                .iter()
                .zip(slow.iter())
                .map(|(&t, &s)| lerp(t, s, w))
                .collect();
            write_param(p, theta);
            // φ ← θ as the parameter holds it (its own dtype).
            *slow = p.to_vec_f64();
        }
    }
}

impl Optimizer for LookaheadOptimizer {
    fn name(&self) -> &'static str {
        "Lookahead"
    }

    fn needs_closure(&self) -> bool {
        self.base.needs_closure()
    }

    fn step(&mut self, grads: &Gradients) {
        self.base.step(grads);
        let moved: Vec<bool> = self
            .base
            .params()
            .iter()
            .map(|p| grads.get(p).is_some())
            .collect();
        self.after_step(&moved);
    }

    fn step_with_closure(&mut self, closure: &mut dyn FnMut() -> (f64, Gradients)) -> f64 {
        let params = self.base.params();
        let mut moved = vec![false; params.len()];
        let mut seen = || {
            let (l, g) = closure();
            for (m, p) in moved.iter_mut().zip(&params) {
                *m = g.get(p).is_some();
            }
            (l, g)
        };
        let loss = self.base.step_with_closure(&mut seen);
        self.after_step(&moved);
        loss
    }

    fn train(&mut self) {
        self.base.train();
    }

    fn eval(&mut self) {
        self.base.eval();
    }

    fn params(&self) -> Vec<Tensor> {
        self.base.params()
    }

    /// The base's tensors and `{i}.slow_params` (f64);
    /// `{"optimizer": "Lookahead", "config", "state": {"counter"}, "base"}`.
    fn state_dict(&self) -> OptimizerState {
        let base = self.base.state_dict();
        let (slow, has) = self.slow.tensors(&self.base.params());
        let mut tensors = base.tensors;
        tensors.extend(slow);
        OptimizerState {
            tensors,
            meta: json!({
                "optimizer": "Lookahead",
                "config": serde_json::to_value(&self.config).expect("configs serialize"),
                "state": {"counter": self.counter, "has": has},
                "base": base.meta,
            }),
        }
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let name = "Lookahead";
        check_name(name, &state.meta)?;
        let config: Lookahead = serde_json::from_value(state.meta["config"].clone())
            .map_err(|e| state_error(name, format!("config: {e}")))?;
        let saved = &state.meta["state"];
        let counter = saved["counter"]
            .as_u64()
            .ok_or_else(|| state_error(name, "counter: missing or not a count"))?;
        let has = read_has(name, saved)?;
        let params = self.base.params();
        let slow = self
            .slow
            .load(name, state, &has, &params, &|i, _| params[i].numel())?;
        let base = OptimizerState {
            tensors: state.tensors.clone(),
            meta: state.meta["base"].clone(),
        };
        self.base.load_state_dict(&base)?;
        self.config = config;
        self.counter = counter as usize;
        self.slow = slow;
        Ok(())
    }

    fn load_state_dict_v1(&mut self, _state: &Value) -> Result<()> {
        Err(state_error(
            "Lookahead",
            "checkpoint format 1 predates this optimizer",
        ))
    }
}

lr_target_of_base!(LookaheadOptimizer);
