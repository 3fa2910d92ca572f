//! The engine shared by every elementwise optimizer: per-group
//! hyperparameters, per-parameter state, and one fused pass over each
//! parameter's memory per step (no temporary tensors), on both cores for
//! large parameters and deterministic either way.

use rayon::prelude::*;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{LrTarget, Optimizer};
use crate::tensor::Element;
use crate::{DType, Error, Gradients, Result, Tensor};

/// Parameters updated with the same hyperparameters (PyTorch's param group),
/// e.g. weights with weight decay and biases without.
///
/// ```
/// use downhill::optim::{Adam, ParamGroup, Optimizer, LrTarget};
/// use downhill::Tensor;
/// let w = Tensor::zeros(&[2, 2]).requires_grad_(true);
/// let b = Tensor::zeros(&[2]).requires_grad_(true);
/// let cfg = Adam::default().weight_decay(0.01);
/// let opt = cfg.clone().build_groups(vec![
///     ParamGroup::new(vec![w], cfg.clone()),
///     ParamGroup::new(vec![b], cfg.weight_decay(0.0)),
/// ]).unwrap();
/// assert_eq!(opt.num_groups(), 2);
/// ```
#[derive(Clone)]
pub struct ParamGroup<C> {
    /// The parameters (trainable leaf tensors).
    pub params: Vec<Tensor>,
    /// Their hyperparameters.
    pub config: C,
}

impl<C> ParamGroup<C> {
    /// A group of `params` with `config`.
    pub fn new(params: Vec<Tensor>, config: C) -> Self {
        ParamGroup { params, config }
    }
}

/// An elementwise update rule: the config struct of an optimizer (its
/// hyperparameters) tells how one element of one parameter moves.
pub trait Rule: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// PyTorch's name of the optimizer.
    const NAME: &'static str;
    /// State values kept per element (Adam: 2, the moments; 3 with amsgrad).
    fn buffers(&self) -> usize;
    /// Initial value of state buffer `k` (0 unless the rule says otherwise).
    fn init_buffer(&self, _k: usize) -> f64 {
        0.0
    }
    /// Per-parameter scalar state, initial values (e.g. NAdam's μ product).
    fn init_scalars(&self) -> Vec<f64> {
        Vec::new()
    }
    /// Checks the hyperparameters.
    ///
    /// **Errors** naming the hyperparameter when a value is invalid.
    fn validate(&self) -> Result<()>;
    /// Learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f64);
    /// The momentum-like hyperparameter, if any.
    fn momentum(&self) -> Option<f64> {
        None
    }
    /// Sets it.
    fn set_momentum(&mut self, _m: f64) {}
    /// Whether gradients are negated (gradient ascent).
    fn maximize(&self) -> bool {
        false
    }
    /// Per-step constants, computed once per parameter after its step count
    /// is incremented to `step`; may update the parameter's scalar state.
    fn coefficients(&self, step: u64, scalars: &mut [f64]) -> [f64; 8];
    /// Updates one element: `p` the parameter, `g` its gradient (already
    /// negated when maximizing), `s` its state buffers, `c` the per-step
    /// constants converted to the parameter's type.
    fn update<T: Element>(&self, c: &[T; 8], p: &mut T, g: T, s: &mut [T]);
}

/// Per-parameter state: step count, scalars, and the interleaved per-element
/// buffers (element i's buffers at `[i·B, (i+1)·B)`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct ParamState {
    step: u64,
    scalars: Vec<f64>,
    buffers: Buffers,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
enum Buffers {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// An optimizer built from an elementwise [`Rule`] (SGD, Adam, RMSprop, …).
pub struct Elementwise<R: Rule> {
    groups: Vec<ParamGroup<R>>,
    state: Vec<Vec<Option<ParamState>>>,
}

/// Above this many elements a parameter's update runs on the rayon pool in
/// fixed-size chunks (elementwise, so the result does not depend on threads).
const PAR_ELEMS: usize = 1 << 15;
const CHUNK: usize = 1 << 13;

impl<R: Rule> Elementwise<R> {
    /// An optimizer over parameter groups.
    ///
    /// **Errors** if a group's hyperparameters are invalid.
    pub fn new(groups: Vec<ParamGroup<R>>) -> Result<Self> {
        for g in &groups {
            g.config.validate()?;
        }
        let state = groups.iter().map(|g| vec![None; g.params.len()]).collect();
        Ok(Elementwise { groups, state })
    }

    /// The parameter groups.
    pub fn groups(&self) -> &[ParamGroup<R>] {
        &self.groups
    }

    /// The hyperparameters of group `g`, to change them between steps.
    pub fn config_mut(&mut self, g: usize) -> &mut R {
        &mut self.groups[g].config
    }

    /// The step count of a parameter (0 before its first update).
    pub fn step_count(&self, param: &Tensor) -> u64 {
        for (g, group) in self.groups.iter().enumerate() {
            for (i, p) in group.params.iter().enumerate() {
                if p.same(param) {
                    return self.state[g][i].as_ref().map_or(0, |s| s.step);
                }
            }
        }
        0
    }
}

fn apply<R: Rule, T: Element>(
    rule: &R,
    c64: &[f64; 8],
    p: &mut [T],
    g: &[T],
    s: &mut [T],
    b: usize,
) {
    let neg = rule.maximize();
    let c: &[T; 8] = &c64.map(T::from_f64);
    // The state width as a constant where it is small, so the loop body is
    // compiled for that stride (and vectorized) instead of a run-time one.
    fn fixed<R: Rule, T: Element, const B: usize>(
        rule: &R,
        c: &[T; 8],
        neg: bool,
        p: &mut [T],
        g: &[T],
        s: &mut [T],
    ) {
        let (s, _) = s.as_chunks_mut::<B>();
        for ((p, &g), s) in p.iter_mut().zip(g).zip(s) {
            rule.update(c, p, if neg { -g } else { g }, s);
        }
    }
    let one = |p: &mut [T], g: &[T], s: &mut [T]| match b {
        0 => {
            for (p, &g) in p.iter_mut().zip(g) {
                rule.update(c, p, if neg { -g } else { g }, &mut []);
            }
        }
        1 => fixed::<R, T, 1>(rule, c, neg, p, g, s),
        2 => fixed::<R, T, 2>(rule, c, neg, p, g, s),
        3 => fixed::<R, T, 3>(rule, c, neg, p, g, s),
        _ => {
            for ((p, &g), s) in p.iter_mut().zip(g).zip(s.chunks_exact_mut(b)) {
                rule.update(c, p, if neg { -g } else { g }, s);
            }
        }
    };
    if p.len() >= PAR_ELEMS {
        let sb = CHUNK * b.max(1);
        if b == 0 {
            p.par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .for_each(|(p, g)| one(p, g, &mut []));
        } else {
            p.par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .zip(s.par_chunks_mut(sb))
                .for_each(|((p, g), s)| one(p, g, s));
        }
    } else {
        one(p, g, s);
    }
}

impl<R: Rule> Optimizer for Elementwise<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn step(&mut self, grads: &Gradients) {
        for (group, states) in self.groups.iter().zip(&mut self.state) {
            let rule = &group.config;
            let b = rule.buffers();
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = grads.get(p) else { continue };
                assert!(
                    crate::tensor::shape::same(g.shape(), p.shape()),
                    "{}: gradient shape {:?} does not match parameter shape {:?}",
                    R::NAME,
                    g.shape(),
                    p.shape()
                );
                let st = st.get_or_insert_with(|| {
                    let n = p.numel();
                    let init: Vec<f64> =
                        (0..n * b).map(|i| rule.init_buffer(i % b.max(1))).collect();
                    ParamState {
                        step: 0,
                        scalars: rule.init_scalars(),
                        buffers: match p.dtype() {
                            DType::F32 => Buffers::F32(init.iter().map(|&v| v as f32).collect()),
                            DType::F64 => Buffers::F64(init),
                        },
                    }
                });
                st.step += 1;
                let c = rule.coefficients(st.step, &mut st.scalars);
                let gs = g.read_storage();
                match (&mut st.buffers, &*gs) {
                    (Buffers::F32(s), crate::tensor::storage::Storage::F32(gv)) => {
                        p.update_::<f32, _>(|pv| apply(rule, &c, pv, gv, s, b))
                    }
                    (Buffers::F64(s), crate::tensor::storage::Storage::F64(gv)) => {
                        p.update_::<f64, _>(|pv| apply(rule, &c, pv, gv, s, b))
                    }
                    _ => panic!(
                        "{}: gradient dtype {} does not match parameter dtype {}",
                        R::NAME,
                        gs.dtype(),
                        p.dtype()
                    ),
                }
            }
        }
    }

    fn params(&self) -> Vec<Tensor> {
        self.groups
            .iter()
            .flat_map(|g| g.params.iter().cloned())
            .collect()
    }

    fn state_dict(&self) -> serde_json::Value {
        serde_json::json!({
            "optimizer": R::NAME,
            "groups": self.groups.iter().map(|g| serde_json::to_value(&g.config).expect("configs serialize")).collect::<Vec<_>>(),
            "state": self.state,
        })
    }

    fn load_state_dict(&mut self, state: &serde_json::Value) -> Result<()> {
        let bad = |m: String| Error::InvalidArgument {
            name: format!("{} state", R::NAME),
            message: m,
        };
        if state["optimizer"] != R::NAME {
            return Err(bad(format!(
                "saved by {}, not {}",
                state["optimizer"],
                R::NAME
            )));
        }
        let groups: Vec<R> =
            serde_json::from_value(state["groups"].clone()).map_err(|e| bad(e.to_string()))?;
        let st: Vec<Vec<Option<ParamState>>> =
            serde_json::from_value(state["state"].clone()).map_err(|e| bad(e.to_string()))?;
        if groups.len() != self.groups.len() || st.len() != self.groups.len() {
            return Err(bad(format!(
                "{} groups saved, {} in this optimizer",
                groups.len(),
                self.groups.len()
            )));
        }
        for (gi, (group, s)) in self.groups.iter().zip(&st).enumerate() {
            if s.len() != group.params.len() {
                return Err(bad(format!(
                    "group {gi}: {} parameters saved, {} here",
                    s.len(),
                    group.params.len()
                )));
            }
            for (pi, (p, ps)) in group.params.iter().zip(s).enumerate() {
                if let Some(ps) = ps {
                    let (len, dtype) = match &ps.buffers {
                        Buffers::F32(v) => (v.len(), DType::F32),
                        Buffers::F64(v) => (v.len(), DType::F64),
                    };
                    let want = p.numel() * group.config.buffers();
                    if len != want || dtype != p.dtype() {
                        return Err(bad(format!(
                            "group {gi} parameter {pi}: state of {len} {dtype} values, expected {want} {}",
                            p.dtype()
                        )));
                    }
                }
            }
        }
        for (g, cfg) in self.groups.iter_mut().zip(groups) {
            cfg.validate()?;
            g.config = cfg;
        }
        self.state = st;
        Ok(())
    }
}

impl<R: Rule> LrTarget for Elementwise<R> {
    fn num_groups(&self) -> usize {
        self.groups.len()
    }
    fn lr(&self, g: usize) -> f64 {
        self.groups[g].config.lr()
    }
    fn set_lr(&mut self, g: usize, lr: f64) {
        self.groups[g].config.set_lr(lr)
    }
    fn momentum(&self, g: usize) -> Option<f64> {
        self.groups[g].config.momentum()
    }
    fn set_momentum(&mut self, g: usize, m: f64) {
        self.groups[g].config.set_momentum(m)
    }
}

/// `from` lerped toward `to` by `w`, exactly as PyTorch's `lerp` computes it.
#[inline(always)]
pub(crate) fn lerp<T: Element>(from: T, to: T, w: T) -> T {
    if w.to_f64() < 0.5 {
        from + w * (to - from)
    } else {
        to - (to - from) * (T::ONE - w)
    }
}

/// Declares the builder methods and `build`/`build_groups` of a config.
macro_rules! config_builders {
    ($ty:ident { $($field:ident : $t:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                pub fn $field(mut self, v: $t) -> Self {
                    self.$field = v;
                    self
                }
            )*

            /// An optimizer over `params` with these hyperparameters.
            ///
            /// **Errors** if a hyperparameter is invalid.
            pub fn build(self, params: Vec<$crate::Tensor>) -> $crate::Result<$crate::optim::Elementwise<$ty>> {
                $crate::optim::Elementwise::new(vec![$crate::optim::ParamGroup::new(params, self)])
            }

            /// An optimizer over several parameter groups, each with its own hyperparameters.
            ///
            /// **Errors** if a group's hyperparameters are invalid.
            pub fn build_groups(self, groups: Vec<$crate::optim::ParamGroup<$ty>>) -> $crate::Result<$crate::optim::Elementwise<$ty>> {
                $crate::optim::Elementwise::new(groups)
            }
        }
    };
}
pub(crate) use config_builders;
