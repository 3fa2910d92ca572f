//! Lookahead (Zhang et al., 2019) around any optimizer, as
//! `pytorch-optimizer` 4.1.0's `Lookahead` does it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dense::{lerp, read_has, write_param, Slots};
use super::state::{check_name, state_error};
use super::{check, LrTarget, Optimizer, OptimizerState};
use crate::{Gradients, Result, Tensor};

/// Lookahead's settings (`pytorch_optimizer.Lookahead`): the base optimizer
/// takes k fast steps, then
///
/// θ ← lerp(θ, φ, 1 − α) = φ + α(θ − φ);  φ ← θ
///
/// with φ the slow weights (the parameters' values when wrapped). Only the
/// parameters that had a gradient in the k-th step move. At the same moment
/// `pullback_momentum` treats the base optimizer's momentum buffer b (the
/// state tensor `momentum_buffer` of SGD, RMSprop and Muon; optimizers
/// without one are left alone, as in the package):
///
/// - [`PullbackMomentum::None`]: b is left as it is (the default);
/// - [`PullbackMomentum::Reset`]: b ← 0;
/// - [`PullbackMomentum::Pullback`]: b ← lerp(b, β, 1 − α);  β ← b, with β
///   the slow momentum (zero when wrapped).
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
    /// What a slow update does to the base optimizer's momentum buffer
    /// (default [`PullbackMomentum::None`]).
    #[serde(default)]
    pub pullback_momentum: PullbackMomentum,
}

impl Default for Lookahead {
    fn default() -> Self {
        Lookahead {
            k: 5,
            alpha: 0.5,
            pullback_momentum: PullbackMomentum::None,
        }
    }
}

/// [`Lookahead`]'s `pullback_momentum`: `"none"`, `"reset"` or `"pullback"`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PullbackMomentum {
    /// The momentum buffer is left as it is.
    #[default]
    None,
    /// The momentum buffer is set to zero.
    Reset,
    /// The momentum buffer is pulled toward the slow momentum as θ is toward φ.
    Pullback,
}

/// The base optimizer's state tensor that `pullback_momentum` acts on.
const MOMENTUM: &str = "momentum_buffer";

impl PullbackMomentum {
    /// The slots Lookahead keeps per parameter in this mode.
    fn slots(self) -> &'static [&'static str] {
        match self {
            PullbackMomentum::Pullback => &["slow_params", "slow_momentum"],
            _ => &["slow_params"],
        }
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
    /// Sets `pullback_momentum`.
    pub fn pullback_momentum(mut self, v: PullbackMomentum) -> Self {
        self.pullback_momentum = v;
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
        let mut slow = Slots::new(self.pullback_momentum.slots(), params.len());
        for (i, p) in params.iter().enumerate() {
            slow.get_or_init(i, || initial_slots(self.pullback_momentum, p));
        }
        Ok(LookaheadOptimizer {
            config: self,
            base,
            slow,
            counter: 0,
        })
    }
}

/// φ = θ, and β = 0 when the mode keeps it.
fn initial_slots(mode: PullbackMomentum, p: &Tensor) -> Vec<Vec<f64>> {
    let mut v = vec![p.to_vec_f64()];
    if mode == PullbackMomentum::Pullback {
        v.push(vec![0.0; p.numel()]);
    }
    v
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
        let mode = self.config.pullback_momentum;
        for (i, p) in self.base.params().iter().enumerate() {
            if !moved[i] {
                continue;
            }
            let slow = &mut self.slow.get_or_init(i, || initial_slots(mode, p))[0];
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
        if mode != PullbackMomentum::None {
            self.pull_momentum(moved, w);
        }
    }

    /// `pullback_momentum` on the base's `{i}.momentum_buffer` tensors of
    /// the parameters that moved, written back through its state (which
    /// every optimizer can load, so no base needs to expose its buffers).
    fn pull_momentum(&mut self, moved: &[bool], w: f64) {
        let mut state = self.base.state_dict();
        let mut changed = false;
        for (name, t) in state.tensors.iter_mut() {
            let Some((i, MOMENTUM)) = OptimizerState::split_param_key(name) else {
                continue;
            };
            if !moved.get(i).copied().unwrap_or(false) {
                continue;
            }
            let pulled = match self.config.pullback_momentum {
                PullbackMomentum::Pullback => {
                    let slots = self
                        .slow
                        .get_mut(i)
                        .expect("moved parameters have slow weights");
                    let pulled: Vec<f64> = t
                        .to_vec_f64()
                        .iter()
                        .zip(&slots[1])
                        .map(|(&b, &s)| lerp(b, s, w))
                        .collect();
                    let pulled = Tensor::from_vec(pulled, t.shape()).to_dtype(t.dtype());
                    // β ← b as the base holds it (its own dtype).
                    slots[1] = pulled.to_vec_f64();
                    pulled
                }
                _ => t.zeros_like(),
            };
            *t = pulled;
            changed = true;
        }
        if changed {
            self.base
                .load_state_dict(&state)
                .expect("an optimizer loads its own state with one tensor replaced by one of the same shape and dtype");
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

    /// The base's tensors, `{i}.slow_params` and, with
    /// [`PullbackMomentum::Pullback`], `{i}.slow_momentum` (f64);
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
        let slow = Slots::new(config.pullback_momentum.slots(), params.len()).load(
            name,
            state,
            &has,
            &params,
            &|i, _| params[i].numel(),
        )?;
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
