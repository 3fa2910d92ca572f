//! The engine shared by every elementwise optimizer: per-group
//! hyperparameters, per-parameter state, and one fused pass over each
//! parameter's memory per step (no temporary tensors), on both cores for
//! large parameters and deterministic either way.

use rayon::prelude::*;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

use super::state::{check_name, state_error, take_tensor};
use super::{Hyperparameters, LrTarget, Optimizer, OptimizerState};
use crate::ops::wide::wide_copies;
use crate::tensor::Element;
use crate::{DType, Gradients, Result, Tensor};

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
///
/// A rule names its per-element state slots after PyTorch's buffers
/// ([`Rule::slots`]: Adam's `exp_avg`, `exp_avg_sq`) and computes, once per
/// parameter and step, a typed [`Rule::Coefficients`] struct whose fields are
/// the constants of the formula in its doc comment; [`Rule::update`] then
/// moves one element. The engine runs it in one fused pass over the
/// parameter, its gradient and its slots, monomorphized per rule and dtype.
pub trait Rule:
    Hyperparameters + Clone + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// PyTorch's name of the optimizer.
    const NAME: &'static str;
    /// The per-step constants of the update, in the parameter's type.
    type Coefficients<T: Element>: Copy + Send + Sync;
    /// Names of the state slots kept per element (Adam: `exp_avg`,
    /// `exp_avg_sq`, and `max_exp_avg_sq` with amsgrad); at most three.
    fn slots(&self) -> &'static [&'static str];
    /// Initial value of slot `k` (0 unless the rule says otherwise).
    fn init_slot(&self, _k: usize) -> f64 {
        0.0
    }
    /// Per-parameter scalar state, named, with initial values (NAdam's
    /// `mu_product`).
    fn scalars(&self) -> Vec<(&'static str, f64)> {
        Vec::new()
    }
    /// Checks the hyperparameters.
    ///
    /// **Errors** naming the hyperparameter when a value is invalid.
    fn validate(&self) -> Result<()>;
    /// The constants of step `step` (the parameter's step count, already
    /// incremented), computed once per parameter; may update the
    /// parameter's scalar state (in the order of [`Rule::scalars`]).
    fn coefficients<T: Element>(&self, step: u64, scalars: &mut [f64]) -> Self::Coefficients<T>;
    /// Updates one element: `p` the parameter, `g` its gradient (already
    /// negated when maximizing), `s` its slots in the order of [`Rule::slots`].
    fn update<T: Element>(&self, c: &Self::Coefficients<T>, p: &mut T, g: T, s: &mut [T]);
}

/// Per-parameter state: step count, named scalars (values in the order of
/// [`Rule::scalars`]) and one tensor per slot, shaped and typed as the parameter.
#[derive(Clone, Debug)]
struct ParamState {
    step: u64,
    scalars: Vec<f64>,
    slots: Vec<Tensor>,
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

/// One fused pass over a parameter with `B` slots: gather the element's
/// slots, update, scatter (the slices are cut to one length so the loop
/// compiles without bounds checks).
///
/// The coefficients are copied into a local first: read through the
/// reference (a closure capture, so without `noalias`), LLVM reloads them
/// after every store to `p` and the slots and cannot vectorize the loop
/// (4x slower Adam); as a local they live in registers. The sign of the
/// gradient is chosen outside the loop for the same reason. The loop is
/// compiled for AVX-512 or AVX2 where the CPU has them ([`wide_copies!`]).
macro_rules! fused_pass {
    ($name:ident, $b:literal $(, ($s:ident, $v:ident))*) => {
        #[inline(always)]
        fn $name<R: Rule, T: Element>(
            rule: &R,
            c: &R::Coefficients<T>,
            p: &mut [T],
            g: &[T],
            $($s: &mut [T]),*
        ) {
            #[inline(always)]
            fn run<R: Rule, T: Element, const NEG: bool>(
                rule: &R,
                c: R::Coefficients<T>,
                p: &mut [T],
                g: &[T],
                $($s: &mut [T]),*
            ) {
                let n = p.len();
                let g = &g[..n];
                $(let $s = &mut $s[..n];)*
                for i in 0..n {
                    let mut e: [T; $b] = [$($s[i]),*];
                    let gi = if NEG { -g[i] } else { g[i] };
                    rule.update(&c, &mut p[i], gi, &mut e);
                    let [$($v),*] = e;
                    $($s[i] = $v;)*
                }
            }
            wide_copies!(fn wide[R: Rule, T: Element, const NEG: bool](
                rule: &R,
                c: R::Coefficients<T>,
                p: &mut [T],
                g: &[T],
                $($s: &mut [T]),*
            ) = run[R, T, NEG]);
            if rule.maximize() {
                wide::<R, T, true>(rule, *c, p, g $(, $s)*)
            } else {
                wide::<R, T, false>(rule, *c, p, g $(, $s)*)
            }
        }
    };
}
fused_pass!(pass0, 0);
fused_pass!(pass1, 1, (a, va));
fused_pass!(pass2, 2, (a, va), (b, vb));
fused_pass!(pass3, 3, (a, va), (b, vb), (d, vd));

/// Runs the pass for `slots.len()` slots, on the rayon pool in chunks
/// when the parameter is large.
fn apply<R: Rule, T: Element>(
    rule: &R,
    c: &R::Coefficients<T>,
    p: &Tensor,
    g: &[T],
    slots: &[Tensor],
) {
    let par = p.numel() >= PAR_ELEMS;
    p.update_::<T, _>(|p| match slots {
        [] if par => p
            .par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .for_each(|(p, g)| pass0(rule, c, p, g)),
        [] => pass0(rule, c, p, g),
        [a] => a.update_::<T, _>(|a| {
            if par {
                p.par_chunks_mut(CHUNK)
                    .zip(g.par_chunks(CHUNK))
                    .zip(a.par_chunks_mut(CHUNK))
                    .for_each(|((p, g), a)| pass1(rule, c, p, g, a))
            } else {
                pass1(rule, c, p, g, a)
            }
        }),
        [a, b] => a.update_::<T, _>(|a| {
            b.update_::<T, _>(|b| {
                if par {
                    p.par_chunks_mut(CHUNK)
                        .zip(g.par_chunks(CHUNK))
                        .zip(a.par_chunks_mut(CHUNK))
                        .zip(b.par_chunks_mut(CHUNK))
                        .for_each(|(((p, g), a), b)| pass2(rule, c, p, g, a, b))
                } else {
                    pass2(rule, c, p, g, a, b)
                }
            })
        }),
        [a, b, d] => a.update_::<T, _>(|a| {
            b.update_::<T, _>(|b| {
                d.update_::<T, _>(|d| {
                    if par {
                        p.par_chunks_mut(CHUNK)
                            .zip(g.par_chunks(CHUNK))
                            .zip(a.par_chunks_mut(CHUNK))
                            .zip(b.par_chunks_mut(CHUNK))
                            .zip(d.par_chunks_mut(CHUNK))
                            .for_each(|((((p, g), a), b), d)| pass3(rule, c, p, g, a, b, d))
                    } else {
                        pass3(rule, c, p, g, a, b, d)
                    }
                })
            })
        }),
        _ => panic!("{}: a rule has at most three slots", R::NAME),
    })
}

fn step_param<R: Rule, T: Element>(rule: &R, st: &mut ParamState, p: &Tensor, g: &Tensor) {
    let c = rule.coefficients::<T>(st.step, &mut st.scalars);
    assert!(
        g.dtype() == p.dtype(),
        "{}: gradient dtype {} does not match parameter dtype {}",
        R::NAME,
        g.dtype(),
        p.dtype()
    );
    g.with_data::<T, _>(|gv| apply(rule, &c, p, gv, &st.slots));
}

impl<R: Rule> Optimizer for Elementwise<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn step(&mut self, grads: &Gradients) {
        for (group, states) in self.groups.iter().zip(&mut self.state) {
            let rule = &group.config;
            for (p, st) in group.params.iter().zip(states.iter_mut()) {
                let Some(g) = grads.get(p) else { continue };
                assert!(
                    crate::tensor::shape::same(g.shape(), p.shape()),
                    "{}: gradient shape {:?} does not match parameter shape {:?}",
                    R::NAME,
                    g.shape(),
                    p.shape()
                );
                let st = st.get_or_insert_with(|| ParamState {
                    step: 0,
                    scalars: rule.scalars().into_iter().map(|(_, v)| v).collect(),
                    slots: (0..rule.slots().len())
                        .map(|k| Tensor::full(p.shape(), rule.init_slot(k), p.dtype()))
                        .collect(),
                });
                st.step += 1;
                match p.dtype() {
                    DType::F32 => step_param::<R, f32>(rule, st, p, g),
                    DType::F64 => step_param::<R, f64>(rule, st, p, g),
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

    fn state_dict(&self) -> OptimizerState {
        let mut tensors = Vec::new();
        let mut index = 0;
        let mut meta_state = Vec::new();
        for (group, states) in self.groups.iter().zip(&self.state) {
            let names = group.config.scalars();
            let mut per_group = Vec::new();
            for st in states {
                per_group.push(match st {
                    None => Value::Null,
                    Some(st) => {
                        for (slot, t) in group.config.slots().iter().zip(&st.slots) {
                            tensors.push((OptimizerState::param_key(index, slot), t.clone()));
                        }
                        let mut m = serde_json::Map::new();
                        m.insert("step".into(), st.step.into());
                        for ((name, _), v) in names.iter().zip(&st.scalars) {
                            m.insert((*name).into(), serde_json::json!(v));
                        }
                        Value::Object(m)
                    }
                });
                index += 1;
            }
            meta_state.push(Value::Array(per_group));
        }
        OptimizerState {
            tensors,
            meta: serde_json::json!({
                "optimizer": R::NAME,
                "groups": self.groups.iter().map(|g| serde_json::to_value(&g.config).expect("configs serialize")).collect::<Vec<_>>(),
                "state": meta_state,
            }),
        }
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let meta = &state.meta;
        check_name(R::NAME, meta)?;
        let bad = |m: String| state_error(R::NAME, m);
        let groups: Vec<R> =
            serde_json::from_value(meta["groups"].clone()).map_err(|e| bad(e.to_string()))?;
        let saved = meta["state"].as_array().map_or(&[][..], |a| &a[..]);
        if groups.len() != self.groups.len() || saved.len() != self.groups.len() {
            return Err(bad(format!(
                "{} groups saved, {} in this optimizer",
                groups.len(),
                self.groups.len()
            )));
        }
        let mut all = Vec::new();
        let mut index = 0;
        for (gi, ((group, cfg), s)) in self.groups.iter().zip(&groups).zip(saved).enumerate() {
            cfg.validate()?;
            let s = s.as_array().map_or(&[][..], |a| &a[..]);
            if s.len() != group.params.len() {
                return Err(bad(format!(
                    "group {gi}: {} parameters saved, {} here",
                    s.len(),
                    group.params.len()
                )));
            }
            let mut states = Vec::new();
            for (p, ps) in group.params.iter().zip(s) {
                states.push(if ps.is_null() {
                    None
                } else {
                    let step = ps["step"]
                        .as_u64()
                        .ok_or_else(|| bad(format!("parameter {index}: no step count")))?;
                    let scalars = cfg
                        .scalars()
                        .iter()
                        .map(|(name, _)| {
                            ps[*name].as_f64().ok_or_else(|| {
                                bad(format!("parameter {index}: scalar {name} is missing"))
                            })
                        })
                        .collect::<Result<Vec<f64>>>()?;
                    let slots = cfg
                        .slots()
                        .iter()
                        .map(|slot| {
                            take_tensor(
                                R::NAME,
                                state,
                                &OptimizerState::param_key(index, slot),
                                p.shape(),
                                p.dtype(),
                            )
                        })
                        .collect::<Result<Vec<Tensor>>>()?;
                    Some(ParamState {
                        step,
                        scalars,
                        slots,
                    })
                });
                index += 1;
            }
            all.push(states);
        }
        for (g, cfg) in self.groups.iter_mut().zip(groups) {
            g.config = cfg;
        }
        self.state = all;
        Ok(())
    }

    fn load_state_dict_v1(&mut self, state: &Value) -> Result<()> {
        let converted = v1_elementwise::<R>(state, &self.groups)?;
        self.load_state_dict(&converted)
    }
}

/// The JSON state of checkpoint format 1 (interleaved per-element buffers
/// as numbers, unnamed scalars) as an [`OptimizerState`].
fn v1_elementwise<R: Rule>(state: &Value, groups: &[ParamGroup<R>]) -> Result<OptimizerState> {
    #[derive(Deserialize)]
    struct V1Param {
        step: u64,
        scalars: Vec<f64>,
        buffers: V1Buffers,
    }
    #[derive(Deserialize)]
    enum V1Buffers {
        F32(Vec<f32>),
        F64(Vec<f64>),
    }
    let bad = |m: String| state_error(R::NAME, m);
    check_name(R::NAME, state)?;
    let cfgs: Vec<R> =
        serde_json::from_value(state["groups"].clone()).map_err(|e| bad(e.to_string()))?;
    let saved: Vec<Vec<Option<V1Param>>> =
        serde_json::from_value(state["state"].clone()).map_err(|e| bad(e.to_string()))?;
    if cfgs.len() != groups.len() || saved.len() != groups.len() {
        return Err(bad(format!(
            "{} groups saved, {} in this optimizer",
            cfgs.len(),
            groups.len()
        )));
    }
    let mut tensors = Vec::new();
    let mut meta_state = Vec::new();
    let mut index = 0;
    for ((group, cfg), s) in groups.iter().zip(&cfgs).zip(saved) {
        let mut per_group = Vec::new();
        for (pi, ps) in s.into_iter().enumerate() {
            let Some(ps) = ps else {
                per_group.push(Value::Null);
                index += 1;
                continue;
            };
            let p = group.params.get(pi).ok_or_else(|| {
                bad(format!(
                    "more parameters saved than the {} here",
                    group.params.len()
                ))
            })?;
            let slots = cfg.slots();
            let (b, n) = (slots.len(), p.numel());
            let deinterleave = |k: usize| -> Result<Tensor> {
                let t = match &ps.buffers {
                    V1Buffers::F32(v) if v.len() == n * b => {
                        Tensor::from_vec(v.iter().skip(k).step_by(b).copied().collect::<Vec<_>>(), p.shape())
                    }
                    V1Buffers::F64(v) if v.len() == n * b => {
                        Tensor::from_vec(v.iter().skip(k).step_by(b).copied().collect::<Vec<_>>(), p.shape())
                    }
                    _ => {
                        return Err(bad(format!(
                            "parameter {index}: the saved buffers do not hold {b} values per element of {:?}",
                            p.shape()
                        )))
                    }
                };
                Ok(t)
            };
            for (k, slot) in slots.iter().enumerate() {
                tensors.push((OptimizerState::param_key(index, slot), deinterleave(k)?));
            }
            let mut m = serde_json::Map::new();
            m.insert("step".into(), ps.step.into());
            for ((name, _), v) in cfg.scalars().iter().zip(&ps.scalars) {
                m.insert((*name).into(), serde_json::json!(v));
            }
            per_group.push(Value::Object(m));
            index += 1;
        }
        meta_state.push(Value::Array(per_group));
    }
    Ok(OptimizerState {
        tensors,
        meta: serde_json::json!({"optimizer": R::NAME, "groups": state["groups"], "state": meta_state}),
    })
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
