//! Prodigy (Mishchenko & Defazio, 2023): Adam whose step size d is
//! estimated on the fly, ported from the authors' PyPI package
//! `prodigyopt` 1.1.2 (`Prodigy`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dense::{read_f64, read_has, write_param, Slots};
use super::hyper::hyperparameters;
use super::single::{single_group_lr_target, SingleGroup};
use super::state::state_error;
use super::{check, Optimizer, OptimizerState};
use crate::{Gradients, Result, Tensor};

/// Prodigy, `prodigyopt.Prodigy`: Adam with the learning rate d·γ, d
/// estimated from the distance travelled. With step k (from 0), β₃ = √β₂
/// unless given, b = √(1−β₂^(k+1))/(1−β₁^(k+1)) with `use_bias_correction`
/// (else 1), and η = d·γ·b; over every parameter (θ₀ its starting value,
/// every `slice_p`-th element for s and the numerator):
///
/// r ← β₃r + (d/d₀)·η·⟨g, θ₀ − θ⟩;  m ← β₁m + d(1−β₁)g;  v ← β₂v + d²(1−β₂)g²;
/// s ← β₃s + (d/d₀)·η·g (d/d₀·d with `safeguard_warmup`);
/// d̂ = c·r / ‖s‖₁;  d ← max(d, d̂) while d = d₀;  d_max ← max(d_max, d̂);  d ← min(d_max, d·growth);
/// θ ← θ − η·m / (√v + d·ε)  (β₁ = 0: θ ← θ − η·d·g / (√v + d·ε))
///
/// with weight decay λ decoupled (θ ← θ − λη·θ, the default) or added to g.
/// The moments use the d before the update, the step the new one. A step
/// whose ‖s‖₁ is 0 (all gradients zero) changes nothing but the state it
/// creates, as in the package. State in f64.
///
/// ```
/// use downhill::optim::{Optimizer, Prodigy};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
/// let mut opt = Prodigy::default().build(vec![w.clone()]).unwrap();
/// for _ in 0..300 {
///     opt.step(&w.square().sum().backward());
/// }
/// assert!(w.to_vec_f64().iter().all(|v| v.abs() < 0.1));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Prodigy {
    /// γ, a multiplier of the estimated step size (default 1).
    pub lr: f64,
    /// (β₁, β₂) of the moments (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// β₃ of the estimates r and s; `None` means √β₂ (default).
    pub beta3: Option<f64>,
    /// ε, scaled by d in the denominator (default 1e-8).
    pub eps: f64,
    /// Weight decay λ (default 0).
    pub weight_decay: f64,
    /// Decoupled (AdamW-style) weight decay rather than L2 (default true).
    pub decouple: bool,
    /// Adam's bias correction in η (default false).
    pub use_bias_correction: bool,
    /// Leave η out of s during warmup (default false).
    pub safeguard_warmup: bool,
    /// d₀, the initial estimate (default 1e-6).
    pub d0: f64,
    /// c, the coefficient of d̂ (default 1).
    pub d_coef: f64,
    /// The most d may grow per step, as a factor; `None` for no bound (default).
    pub growth_rate: Option<f64>,
    /// Every `slice_p`-th element enters r and s (default 1).
    pub slice_p: usize,
}

impl Default for Prodigy {
    fn default() -> Self {
        Prodigy {
            lr: 1.0,
            betas: (0.9, 0.999),
            beta3: None,
            eps: 1e-8,
            weight_decay: 0.0,
            decouple: true,
            use_bias_correction: false,
            safeguard_warmup: false,
            d0: 1e-6,
            d_coef: 1.0,
            growth_rate: None,
            slice_p: 1,
        }
    }
}

hyperparameters!(Prodigy {
    lr,
    momentum: betas.0
});

impl Prodigy {
    /// Sets `lr`.
    pub fn lr(mut self, v: f64) -> Self {
        self.lr = v;
        self
    }
    /// Sets `weight_decay`.
    pub fn weight_decay(mut self, v: f64) -> Self {
        self.weight_decay = v;
        self
    }
    /// Sets `d0`.
    pub fn d0(mut self, v: f64) -> Self {
        self.d0 = v;
        self
    }

    /// An optimizer over `params` (one group).
    ///
    /// **Errors** if a hyperparameter is out of range (the package's rules:
    /// `lr`, `eps`, `d0` > 0, betas in [0, 1); and β₃ in [0, 1), `d_coef` > 0,
    /// `growth_rate` ≥ 1, `slice_p` ≥ 1, `weight_decay` ≥ 0).
    pub fn build(self, params: Vec<Tensor>) -> Result<ProdigyOptimizer> {
        super::dadapt::check_common(self.lr, self.d0, self.growth_rate, self.weight_decay)?;
        super::dadapt::check_betas(self.betas)?;
        super::dadapt::check_positive("eps", self.eps)?;
        super::dadapt::check_positive("d_coef", self.d_coef)?;
        check(
            self.beta3.is_none_or(|b| (0.0..1.0).contains(&b)),
            "beta3",
            format!("must be in [0, 1) or null (√β₂), got {:?}", self.beta3),
        )?;
        check(self.slice_p >= 1, "slice_p", "must be a whole number ≥ 1")?;
        let n = params.len();
        Ok(ProdigyOptimizer {
            d: self.d0,
            d_max: self.d0,
            group: SingleGroup::new(self, params),
            slots: Slots::new(SLOTS, n),
            k: 0,
            d_numerator: 0.0,
        })
    }
}

const SLOTS: &[&str] = &["s", "p0", "exp_avg", "exp_avg_sq"];

/// A [`Prodigy`] optimizer with its parameters, state and estimate d.
pub struct ProdigyOptimizer {
    group: SingleGroup<Prodigy>,
    slots: Slots,
    k: u64,
    d: f64,
    d_max: f64,
    d_numerator: f64,
}

impl ProdigyOptimizer {
    /// The current estimate d (the step size is d·γ).
    pub fn d(&self) -> f64 {
        self.d
    }
}

fn sliced(v: &[f64], step: usize) -> Vec<f64> {
    v.iter().step_by(step).copied().collect()
}

impl Optimizer for ProdigyOptimizer {
    fn name(&self) -> &'static str {
        "Prodigy"
    }

    fn step(&mut self, grads: &Gradients) {
        let cfg = self.group.config.clone();
        let (beta1, beta2) = cfg.betas;
        let beta3 = cfg.beta3.unwrap_or_else(|| beta2.sqrt());
        let (k, d, lr, d0) = (self.k as f64, self.d, cfg.lr, cfg.d0);
        let bias_correction = if cfg.use_bias_correction {
            (1.0 - beta2.powf(k + 1.0)).powf(0.5) / (1.0 - beta1.powf(k + 1.0))
        } else {
            1.0
        };
        let dlr = d * lr * bias_correction;
        let d_numerator = self.d_numerator * beta3;
        let mut delta_numerator = 0.0;
        let mut d_denom = 0.0;
        let mut stepped = Vec::new();
        for (i, p) in self.group.params.iter().enumerate() {
            let Some(g) = grads.get(p) else { continue };
            let mut g = g.to_vec_f64();
            let theta = p.to_vec_f64();
            if cfg.weight_decay != 0.0 && !cfg.decouple {
                g.iter_mut()
                    .zip(&theta)
                    .for_each(|(g, t)| *g += cfg.weight_decay * t);
            }
            let st = self.slots.get_or_init(i, || {
                let m = sliced(&theta, cfg.slice_p).len();
                vec![
                    vec![0.0; m],
                    sliced(&theta, cfg.slice_p),
                    vec![0.0; theta.len()],
                    vec![0.0; theta.len()],
                ]
            });
            if lr > 0.0 {
                let gs = sliced(&g, cfg.slice_p);
                let ts = sliced(&theta, cfg.slice_p);
                let dot: f64 = gs
                    .iter()
                    .zip(&st[1])
                    .zip(&ts)
                    .map(|((g, p0), t)| g * (p0 - t))
                    .sum();
                delta_numerator += (d / d0) * dlr * dot;
                if beta1 > 0.0 {
                    let a = d * (1.0 - beta1);
                    st[2]
                        .iter_mut()
                        .zip(&g)
                        .for_each(|(m, g)| *m = *m * beta1 + a * g);
                }
                let b = d * d * (1.0 - beta2);
                st[3]
                    .iter_mut()
                    .zip(&g)
                    .for_each(|(v, g)| *v = *v * beta2 + b * g * g);
                let a = if cfg.safeguard_warmup {
                    (d / d0) * d
                } else {
                    (d / d0) * dlr
                };
                st[0]
                    .iter_mut()
                    .zip(&gs)
                    .for_each(|(s, g)| *s = *s * beta3 + a * g);
                d_denom += st[0].iter().map(|s| s.abs()).sum::<f64>();
            }
            stepped.push((i, g, theta));
        }
        if d_denom == 0.0 {
            return;
        }
        let mut d = d;
        if lr > 0.0 {
            let numerator = d_numerator + delta_numerator;
            let d_hat = cfg.d_coef * numerator / d_denom;
            if d == d0 {
                d = f64::max(d, d_hat);
            }
            self.d_max = f64::max(self.d_max, d_hat);
            d = f64::min(self.d_max, d * cfg.growth_rate.unwrap_or(f64::INFINITY));
            self.d_numerator = numerator;
        }
        self.d = d;
        for (i, g, mut theta) in stepped {
            let st = self.slots.get_or_init(i, Vec::new);
            if cfg.weight_decay != 0.0 && cfg.decouple {
                let a = -cfg.weight_decay * dlr;
                theta.iter_mut().for_each(|t| *t += a * *t);
            }
            for j in 0..theta.len() {
                let denom = st[3][j].sqrt() + d * cfg.eps;
                theta[j] += if beta1 > 0.0 {
                    -dlr * st[2][j] / denom
                } else {
                    -dlr * d * g[j] / denom
                };
            }
            write_param(&self.group.params[i], theta);
        }
        self.k += 1;
    }

    fn params(&self) -> Vec<Tensor> {
        self.group.params.clone()
    }

    /// Tensors `{i}.s`, `{i}.p0` (every `slice_p`-th element),
    /// `{i}.exp_avg`, `{i}.exp_avg_sq` in f64; `k`, `d`, `d_max`,
    /// `d_numerator` in the document.
    fn state_dict(&self) -> OptimizerState {
        let (tensors, has) = self.slots.tensors(&self.group.params);
        let state = json!({
            "has": has, "k": self.k, "d": self.d, "d_max": self.d_max,
            "d_numerator": self.d_numerator,
        });
        self.group.state_dict("Prodigy", tensors, state)
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let (config, saved) = self.group.read("Prodigy", &state.meta)?;
        let has = read_has("Prodigy", &saved)?;
        let params = &self.group.params;
        let step = config.slice_p.max(1);
        let slots = self
            .slots
            .load("Prodigy", state, &has, params, &|i, slot| {
                let n = params[i].numel();
                if slot == "s" || slot == "p0" {
                    n.div_ceil(step)
                } else {
                    n
                }
            })?;
        self.k = saved["k"]
            .as_u64()
            .ok_or_else(|| state_error("Prodigy", "k: missing or not a count"))?;
        self.d = read_f64("Prodigy", &saved, "d")?;
        self.d_max = read_f64("Prodigy", &saved, "d_max")?;
        self.d_numerator = read_f64("Prodigy", &saved, "d_numerator")?;
        self.slots = slots;
        self.group.config = config;
        Ok(())
    }

    fn load_state_dict_v1(&mut self, _state: &Value) -> Result<()> {
        Err(state_error(
            "Prodigy",
            "checkpoint format 1 predates this optimizer",
        ))
    }
}

single_group_lr_target!(ProdigyOptimizer);
