//! D-Adaptation (Defazio & Mishchenko, 2023), learning-rate-free Adam and
//! SGD, ported from the authors' PyPI package `dadaptation` 3.2
//! (`DAdaptAdam`, `DAdaptSGD`): the step size d is estimated on the fly
//! from a lower bound on the distance to the solution.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dense::{read_f64, read_has, write_param, Slots};
use super::hyper::hyperparameters;
use super::single::{single_group_lr_target, SingleGroup};
use super::state::state_error;
use super::{check, Optimizer, OptimizerState};
use crate::{Gradients, Result, Tensor};

/// `name` must be a finite number > 0.
pub(crate) fn check_positive(name: &str, v: f64) -> Result<()> {
    check(
        v.is_finite() && v > 0.0,
        name,
        format!("must be a finite number > 0, got {v}"),
    )
}

/// The rules D-Adaptation and Prodigy share: `lr`, `d0` > 0, `growth_rate`
/// ≥ 1 or unbounded, `weight_decay` ≥ 0.
pub(crate) fn check_common(
    lr: f64,
    d0: f64,
    growth_rate: Option<f64>,
    weight_decay: f64,
) -> Result<()> {
    check_positive("lr", lr)?;
    check_positive("d0", d0)?;
    check(
        growth_rate.is_none_or(|g| g.is_finite() && g >= 1.0),
        "growth_rate",
        format!("must be a finite number ≥ 1 or null (unbounded), got {growth_rate:?}"),
    )?;
    check(
        weight_decay.is_finite() && weight_decay >= 0.0,
        "weight_decay",
        format!("must be a finite number ≥ 0, got {weight_decay}"),
    )
}

/// Both betas in [0, 1).
pub(crate) fn check_betas((b1, b2): (f64, f64)) -> Result<()> {
    check(
        (0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2),
        "betas",
        format!("must be two numbers in [0, 1), got [{b1}, {b2}]"),
    )
}

/// D-Adapted Adam, `dadaptation.DAdaptAdam`. With step k (from 0),
/// b = √(1−β₂^(k+1))/(1−β₁^(k+1)) with `use_bias_correction` (else 1),
/// η = d·γ·b, over every parameter:
///
/// r ← √β₂·r + (1−√β₂)·η·⟨g, s/(√v + ε)⟩;  m ← β₁m + η(1−β₁)g;  v ← β₂v + (1−β₂)g²;
/// s ← √β₂·s + η(1−√β₂)g;  d ← max(d, min(r / ((1−√β₂)‖s‖₁), d·growth));
/// θ ← θ − m / (√v + ε)
///
/// (r's inner product uses v before the update), with weight decay λ added
/// to g, or decoupled (θ ← θ − λη·θ). A step whose ‖s‖₁ is 0 changes
/// nothing but the state it creates, as in the package. State in f64.
///
/// ```
/// use downhill::optim::{DAdaptAdam, Optimizer};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
/// let mut opt = DAdaptAdam::default().build(vec![w.clone()]).unwrap();
/// for _ in 0..300 {
///     opt.step(&w.square().sum().backward());
/// }
/// assert!(w.to_vec_f64().iter().all(|v| v.abs() < 0.1));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DAdaptAdam {
    /// γ, a multiplier of the estimated step size (default 1).
    pub lr: f64,
    /// (β₁, β₂) (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε (default 1e-8).
    pub eps: f64,
    /// Weight decay λ (default 0).
    pub weight_decay: f64,
    /// Decoupled (AdamW-style) weight decay rather than L2 (default false).
    pub decouple: bool,
    /// Adam's bias correction in η (default false).
    pub use_bias_correction: bool,
    /// d₀, the initial estimate (default 1e-6).
    pub d0: f64,
    /// The most d may grow per step, as a factor; `None` for no bound (default).
    pub growth_rate: Option<f64>,
}

impl Default for DAdaptAdam {
    fn default() -> Self {
        DAdaptAdam {
            lr: 1.0,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decouple: false,
            use_bias_correction: false,
            d0: 1e-6,
            growth_rate: None,
        }
    }
}

/// D-Adapted SGD, `dadaptation.DAdaptSGD` (dual averaging). At the first
/// step ‖g₀‖ is kept; η = d·γ/‖g₀‖ and, over every parameter (x₀ its
/// starting value, g with L2 weight decay λθ):
///
/// r ← r + η⟨g, s⟩;  s ← s + ηg;  d ← max(d, min(2r/‖s‖₂, d·growth));
/// z = x₀ − s;  θ ← μθ + (1−μ)z
///
/// (μ the `momentum`; ‖g₀‖ leaves out the weight decay, as in the
/// package). A first gradient of norm 0 skips the step (the package
/// divides by it); a step whose ‖s‖ is 0 changes nothing but the state.
///
/// ```
/// use downhill::optim::{DAdaptSGD, Optimizer};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
/// let mut opt = DAdaptSGD::default().build(vec![w.clone()]).unwrap();
/// for _ in 0..100 {
///     opt.step(&w.square().sum().backward());
/// }
/// assert!(w.to_vec_f64().iter().all(|v| v.abs() < 0.1));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DAdaptSGD {
    /// γ, a multiplier of the estimated step size (default 1).
    pub lr: f64,
    /// μ in [0, 1): θ ← μθ + (1−μ)z (default 0).
    pub momentum: f64,
    /// L2 weight decay λ (default 0).
    pub weight_decay: f64,
    /// d₀, the initial estimate (default 1e-6).
    pub d0: f64,
    /// The most d may grow per step, as a factor; `None` for no bound (default).
    pub growth_rate: Option<f64>,
}

impl Default for DAdaptSGD {
    fn default() -> Self {
        DAdaptSGD {
            lr: 1.0,
            momentum: 0.0,
            weight_decay: 0.0,
            d0: 1e-6,
            growth_rate: None,
        }
    }
}

hyperparameters!(DAdaptAdam {
    lr,
    momentum: betas.0
});
hyperparameters!(DAdaptSGD {
    lr,
    momentum: momentum
});

impl DAdaptAdam {
    /// Sets `lr`.
    pub fn lr(mut self, v: f64) -> Self {
        self.lr = v;
        self
    }
    /// Sets `d0`.
    pub fn d0(mut self, v: f64) -> Self {
        self.d0 = v;
        self
    }

    /// An optimizer over `params` (one group).
    ///
    /// **Errors** if a hyperparameter is out of range (`lr`, `eps`, `d0` > 0,
    /// betas in [0, 1), `growth_rate` ≥ 1, `weight_decay` ≥ 0).
    pub fn build(self, params: Vec<Tensor>) -> Result<DAdaptOptimizer<DAdaptAdam>> {
        check_common(self.lr, self.d0, self.growth_rate, self.weight_decay)?;
        check_betas(self.betas)?;
        check_positive("eps", self.eps)?;
        let d0 = self.d0;
        Ok(DAdaptOptimizer::new(
            self,
            params,
            &["s", "exp_avg", "exp_avg_sq"],
            d0,
        ))
    }
}

impl DAdaptSGD {
    /// Sets `lr`.
    pub fn lr(mut self, v: f64) -> Self {
        self.lr = v;
        self
    }
    /// Sets `momentum`.
    pub fn momentum(mut self, v: f64) -> Self {
        self.momentum = v;
        self
    }

    /// An optimizer over `params` (one group).
    ///
    /// **Errors** if a hyperparameter is out of range (`lr`, `d0` > 0,
    /// `momentum` in [0, 1), `growth_rate` ≥ 1, `weight_decay` ≥ 0).
    pub fn build(self, params: Vec<Tensor>) -> Result<DAdaptOptimizer<DAdaptSGD>> {
        check_common(self.lr, self.d0, self.growth_rate, self.weight_decay)?;
        check(
            (0.0..1.0).contains(&self.momentum),
            "momentum",
            format!("must be in [0, 1), got {}", self.momentum),
        )?;
        let d0 = self.d0;
        Ok(DAdaptOptimizer::new(self, params, &["z", "s", "x0"], d0))
    }
}

/// A D-Adaptation optimizer ([`DAdaptAdam`] or [`DAdaptSGD`]) with its
/// parameters, state and estimate d.
pub struct DAdaptOptimizer<C> {
    group: SingleGroup<C>,
    slots: Slots,
    k: u64,
    d: f64,
    numerator_weighted: f64,
    /// DAdaptSGD: ‖g₀‖.
    g0_norm: f64,
}

impl<C: Clone + Serialize + serde::de::DeserializeOwned + super::Hyperparameters>
    DAdaptOptimizer<C>
{
    fn new(config: C, params: Vec<Tensor>, slots: &'static [&'static str], d0: f64) -> Self {
        let n = params.len();
        DAdaptOptimizer {
            group: SingleGroup::new(config, params),
            slots: Slots::new(slots, n),
            k: 0,
            d: d0,
            numerator_weighted: 0.0,
            g0_norm: 0.0,
        }
    }

    /// The current estimate d.
    pub fn d(&self) -> f64 {
        self.d
    }

    fn state_doc(&self, name: &str) -> OptimizerState {
        let (tensors, has) = self.slots.tensors(&self.group.params);
        let state = json!({
            "has": has, "k": self.k, "d": self.d,
            "numerator_weighted": self.numerator_weighted, "g0_norm": self.g0_norm,
        });
        self.group.state_dict(name, tensors, state)
    }

    fn load_doc(&mut self, name: &str, state: &OptimizerState) -> Result<()> {
        let (config, saved) = self.group.read(name, &state.meta)?;
        let has = read_has(name, &saved)?;
        let params = &self.group.params;
        let slots = self
            .slots
            .load(name, state, &has, params, &|i, _| params[i].numel())?;
        self.k = saved["k"]
            .as_u64()
            .ok_or_else(|| state_error(name, "k: missing or not a count"))?;
        self.d = read_f64(name, &saved, "d")?;
        self.numerator_weighted = read_f64(name, &saved, "numerator_weighted")?;
        self.g0_norm = read_f64(name, &saved, "g0_norm")?;
        self.slots = slots;
        self.group.config = config;
        Ok(())
    }
}

impl Optimizer for DAdaptOptimizer<DAdaptAdam> {
    fn name(&self) -> &'static str {
        "DAdaptAdam"
    }

    fn step(&mut self, grads: &Gradients) {
        let cfg = self.group.config.clone();
        let (beta1, beta2) = cfg.betas;
        let (k, d, lr) = (self.k as f64, self.d, cfg.lr);
        let bias_correction = if cfg.use_bias_correction {
            (1.0 - beta2.powf(k + 1.0)).powf(0.5) / (1.0 - beta1.powf(k + 1.0))
        } else {
            1.0
        };
        let dlr = d * lr * bias_correction;
        let sqrt_beta2 = beta2.powf(0.5);
        let mut numerator_acum = 0.0;
        let mut sk_l1 = 0.0;
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
            let n = theta.len();
            let st = self.slots.get_or_init(i, || vec![vec![0.0; n]; 3]);
            if lr > 0.0 {
                let dot: f64 = (0..n)
                    .map(|j| g[j] * (st[0][j] / (st[2][j].sqrt() + cfg.eps)))
                    .sum();
                numerator_acum += dlr * dot;
                let a = dlr * (1.0 - beta1);
                let b = dlr * (1.0 - sqrt_beta2);
                for j in 0..n {
                    st[1][j] = st[1][j] * beta1 + a * g[j];
                    st[2][j] = st[2][j] * beta2 + (1.0 - beta2) * g[j] * g[j];
                    st[0][j] = st[0][j] * sqrt_beta2 + b * g[j];
                }
                sk_l1 += st[0].iter().map(|s| s.abs()).sum::<f64>();
            }
            stepped.push((i, theta));
        }
        let numerator_weighted =
            sqrt_beta2 * self.numerator_weighted + (1.0 - sqrt_beta2) * numerator_acum;
        if sk_l1 == 0.0 {
            return;
        }
        let mut d = d;
        if lr > 0.0 {
            let d_hat = numerator_weighted / ((1.0 - sqrt_beta2) * sk_l1);
            d = f64::max(
                d,
                f64::min(d_hat, d * cfg.growth_rate.unwrap_or(f64::INFINITY)),
            );
        }
        self.numerator_weighted = numerator_weighted;
        self.d = d;
        for (i, mut theta) in stepped {
            let st = self.slots.get_or_init(i, Vec::new);
            if cfg.weight_decay != 0.0 && cfg.decouple {
                let a = -cfg.weight_decay * dlr;
                theta.iter_mut().for_each(|t| *t += a * *t);
            }
            for (j, t) in theta.iter_mut().enumerate() {
                *t += -st[1][j] / (st[2][j].sqrt() + cfg.eps);
            }
            write_param(&self.group.params[i], theta);
        }
        self.k += 1;
    }

    fn params(&self) -> Vec<Tensor> {
        self.group.params.clone()
    }

    /// Tensors `{i}.s`, `{i}.exp_avg`, `{i}.exp_avg_sq` in f64; `k`, `d`,
    /// `numerator_weighted` in the document.
    fn state_dict(&self) -> OptimizerState {
        self.state_doc("DAdaptAdam")
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        self.load_doc("DAdaptAdam", state)
    }

    fn load_state_dict_v1(&mut self, _state: &Value) -> Result<()> {
        Err(state_error(
            "DAdaptAdam",
            "checkpoint format 1 predates this optimizer",
        ))
    }
}

impl Optimizer for DAdaptOptimizer<DAdaptSGD> {
    fn name(&self) -> &'static str {
        "DAdaptSGD"
    }

    fn step(&mut self, grads: &Gradients) {
        let cfg = self.group.config.clone();
        let (d, lr) = (self.d, cfg.lr);
        let ck = 1.0 - cfg.momentum;
        if self.k == 0 {
            let g_sq: f64 = self
                .group
                .params
                .iter()
                .filter_map(|p| grads.get(p))
                .map(|g| g.to_vec_f64().iter().map(|v| v * v).sum::<f64>())
                .sum();
            self.g0_norm = g_sq.sqrt();
        }
        if self.g0_norm == 0.0 {
            return;
        }
        let dlr = d * lr / self.g0_norm;
        let mut numerator_weighted = self.numerator_weighted;
        let mut sk_sq = 0.0;
        let mut stepped = Vec::new();
        for (i, p) in self.group.params.iter().enumerate() {
            let Some(g) = grads.get(p) else { continue };
            let mut g = g.to_vec_f64();
            let theta = p.to_vec_f64();
            let st = self.slots.get_or_init(i, || {
                vec![theta.clone(), vec![0.0; theta.len()], theta.clone()]
            });
            if cfg.weight_decay != 0.0 {
                g.iter_mut()
                    .zip(&theta)
                    .for_each(|(g, t)| *g += cfg.weight_decay * t);
            }
            if lr > 0.0 {
                let dot: f64 = g.iter().zip(&st[1]).map(|(g, s)| g * s).sum();
                numerator_weighted += dlr * dot;
                st[1].iter_mut().zip(&g).for_each(|(s, g)| *s += dlr * g);
                sk_sq += st[1].iter().map(|s| s * s).sum::<f64>();
            }
            stepped.push((i, theta));
        }
        if sk_sq == 0.0 {
            return;
        }
        let mut d = d;
        if lr > 0.0 {
            let d_hat = 2.0 * numerator_weighted / sk_sq.sqrt();
            d = f64::max(
                d,
                f64::min(d_hat, d * cfg.growth_rate.unwrap_or(f64::INFINITY)),
            );
        }
        self.numerator_weighted = numerator_weighted;
        self.d = d;
        for (i, mut theta) in stepped {
            let st = self.slots.get_or_init(i, Vec::new);
            for (j, t) in theta.iter_mut().enumerate() {
                st[0][j] = st[2][j] - st[1][j];
                *t = *t * (1.0 - ck) + ck * st[0][j];
            }
            write_param(&self.group.params[i], theta);
        }
        self.k += 1;
    }

    fn params(&self) -> Vec<Tensor> {
        self.group.params.clone()
    }

    /// Tensors `{i}.z`, `{i}.s`, `{i}.x0` in f64; `k`, `d`,
    /// `numerator_weighted`, `g0_norm` in the document.
    fn state_dict(&self) -> OptimizerState {
        self.state_doc("DAdaptSGD")
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        self.load_doc("DAdaptSGD", state)
    }

    fn load_state_dict_v1(&mut self, _state: &Value) -> Result<()> {
        Err(state_error(
            "DAdaptSGD",
            "checkpoint format 1 predates this optimizer",
        ))
    }
}

single_group_lr_target!(DAdaptOptimizer<DAdaptAdam>);
single_group_lr_target!(DAdaptOptimizer<DAdaptSGD>);
