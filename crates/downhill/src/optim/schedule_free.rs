//! Schedule-free AdamW and SGD (Defazio et al., 2024, "The Road Less
//! Scheduled"), ported from the authors' PyPI package `schedulefree` 1.4.1
//! (`AdamWScheduleFree`, `SGDScheduleFree`): no learning-rate schedule, an
//! online average of the iterates instead, and a train/eval switch of the
//! weights the parameters hold.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dense::{lerp, read_f64, read_has, write_param, Slots};
use super::hyper::hyperparameters;
use super::single::SingleGroup;
use super::state::state_error;
use super::{check, Hyperparameters, Optimizer, OptimizerState};
use crate::{Gradients, Result, Tensor};

/// Schedule-free AdamW, `schedulefree.AdamWScheduleFree`. The parameters
/// hold y (where gradients are taken) while training; z is the base
/// sequence, x the average that is evaluated. With step k (from 0),
/// γₖ = γ·min(1, (k+1)/warmup_steps), γ_max = maxᵢ γᵢ,
/// wₖ = (k+1)^r·γ_max^p (p = `weight_lr_power`), cₖ = wₖ / Σᵢ≤ₖ wᵢ:
///
/// v ← β₂v + (1−β₂)g²;  u = g / (√(v/(1−β₂^(k+1))) + ε) + λy;
/// y ← lerp(y, z, cₖ) + γₖ(β₁(1−cₖ) − 1)·u;  z ← z − γₖu
///
/// (which keeps y = (1−β₁)z + β₁x with x ← lerp(x, z, cₖ)).
/// [`Optimizer::eval`] sets the parameters to x = lerp(y, z, 1 − 1/β₁),
/// [`Optimizer::train`] back to y = lerp(x, z, 1 − β₁); the trainer
/// validates, keeps and saves the eval weights, and switches back before
/// training goes on. Unlike the package (which starts in eval mode), it
/// starts in train mode; like it, a step in eval mode is refused (the
/// gradients must be taken at y: call `train()` before the forward pass).
///
/// ```
/// use downhill::optim::{AdamWScheduleFree, Optimizer};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
/// let mut opt = AdamWScheduleFree::default().lr(0.1).build(vec![w.clone()]).unwrap();
/// for _ in 0..200 {
///     opt.step(&w.square().sum().backward());
/// }
/// opt.eval(); // the averaged weights x
/// assert!(w.to_vec_f64().iter().all(|v| v.abs() < 0.05));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdamWScheduleFree {
    /// Learning rate γ (default 0.0025).
    pub lr: f64,
    /// (β₁, β₂): the interpolation y = (1−β₁)z + β₁x and the second-moment
    /// average (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (default 1e-8).
    pub eps: f64,
    /// λ, weight decay taken at y (default 0).
    pub weight_decay: f64,
    /// Steps of linear warmup of γ (default 0).
    pub warmup_steps: usize,
    /// Power r of the polynomial weighting (k+1)^r of the average (default 0).
    pub r: f64,
    /// Power p of γ_max in the weights of the average (default 2).
    pub weight_lr_power: f64,
}

impl Default for AdamWScheduleFree {
    fn default() -> Self {
        AdamWScheduleFree {
            lr: 0.0025,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
        }
    }
}

/// Schedule-free SGD, `schedulefree.SGDScheduleFree`: with γₖ, cₖ as in
/// [`AdamWScheduleFree`] and β the `momentum`,
///
/// u = g + λy;  y ← lerp(y, z, cₖ) + γₖ(β(1−cₖ) − 1)·u;  z ← z − γₖu
///
/// (y = (1−β)z + βx, x ← lerp(x, z, cₖ)); [`Optimizer::eval`] sets the
/// parameters to x = lerp(y, z, 1 − 1/β), [`Optimizer::train`] back to y.
///
/// ```
/// use downhill::optim::{Optimizer, SGDScheduleFree};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
/// let mut opt = SGDScheduleFree::default().lr(0.1).build(vec![w.clone()]).unwrap();
/// for _ in 0..100 {
///     opt.step(&w.square().sum().backward());
/// }
/// opt.eval(); // x, the average: (0.0208, −0.0416), as the package gives
/// assert!(w.to_vec_f64().iter().all(|v| v.abs() < 0.05));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SGDScheduleFree {
    /// Learning rate γ (default 1).
    pub lr: f64,
    /// β in (0, 1): the interpolation y = (1−β)z + βx (default 0.9).
    pub momentum: f64,
    /// λ, L2 weight decay taken at y (default 0).
    pub weight_decay: f64,
    /// Steps of linear warmup of γ (default 0).
    pub warmup_steps: usize,
    /// Power r of the polynomial weighting (k+1)^r of the average (default 0).
    pub r: f64,
    /// Power p of γ_max in the weights of the average (default 2).
    pub weight_lr_power: f64,
}

impl Default for SGDScheduleFree {
    fn default() -> Self {
        SGDScheduleFree {
            lr: 1.0,
            momentum: 0.9,
            weight_decay: 0.0,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
        }
    }
}

hyperparameters!(AdamWScheduleFree { lr });
hyperparameters!(SGDScheduleFree { lr });

macro_rules! builders {
    ($ty:ident { $($field:ident : $t:ty),* }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($field), "`.")]
                pub fn $field(mut self, v: $t) -> Self {
                    self.$field = v;
                    self
                }
            )*
        }
    };
}
builders!(AdamWScheduleFree {
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    weight_decay: f64,
    warmup_steps: usize,
    r: f64,
    weight_lr_power: f64
});
builders!(SGDScheduleFree {
    lr: f64,
    momentum: f64,
    weight_decay: f64,
    warmup_steps: usize,
    r: f64,
    weight_lr_power: f64
});

fn finite_ge0(name: &str, v: f64) -> Result<()> {
    check(
        v.is_finite() && v >= 0.0,
        name,
        format!("must be a finite number ≥ 0, got {v}"),
    )
}

impl AdamWScheduleFree {
    /// An optimizer over `params` (one group).
    ///
    /// **Errors** if a hyperparameter is out of range.
    pub fn build(self, params: Vec<Tensor>) -> Result<ScheduleFreeOptimizer<AdamWScheduleFree>> {
        finite_ge0("lr", self.lr)?;
        let (b1, b2) = self.betas;
        check(
            (0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2),
            "betas",
            format!("must be two numbers in [0, 1), got [{b1}, {b2}]"),
        )?;
        finite_ge0("eps", self.eps)?;
        finite_ge0("weight_decay", self.weight_decay)?;
        check_weighting(self.r, self.weight_lr_power)?;
        Ok(ScheduleFreeOptimizer::new(self, params))
    }
}

impl SGDScheduleFree {
    /// An optimizer over `params` (one group).
    ///
    /// **Errors** if a hyperparameter is out of range (`momentum` outside (0, 1)).
    pub fn build(self, params: Vec<Tensor>) -> Result<ScheduleFreeOptimizer<SGDScheduleFree>> {
        finite_ge0("lr", self.lr)?;
        check(
            self.momentum > 0.0 && self.momentum < 1.0,
            "momentum",
            format!("must be in (0, 1), got {}", self.momentum),
        )?;
        finite_ge0("weight_decay", self.weight_decay)?;
        check_weighting(self.r, self.weight_lr_power)?;
        Ok(ScheduleFreeOptimizer::new(self, params))
    }
}

fn check_weighting(r: f64, power: f64) -> Result<()> {
    check(r.is_finite(), "r", format!("must be finite, got {r}"))?;
    check(
        power.is_finite(),
        "weight_lr_power",
        format!("must be finite, got {power}"),
    )
}

/// What distinguishes the two schedule-free rules: the interpolation β and
/// the gradient step's direction u (with the rule's own slots).
pub trait ScheduleFreeRule:
    Hyperparameters + Serialize + serde::de::DeserializeOwned + Clone + Send + 'static
{
    /// The package's class name.
    const NAME: &'static str;
    /// The per-parameter slots besides z.
    const SLOTS: &'static [&'static str];
    /// β: β₁ for AdamW, `momentum` for SGD.
    fn beta(&self) -> f64;
    /// `warmup_steps`, `r`, `weight_lr_power`.
    fn averaging(&self) -> (usize, f64, f64);
    /// The step direction u of one element from its gradient `g`, the
    /// current y, and the rule's slots (updated in place); step k from 0.
    fn direction(&self, k: u64, g: f64, y: f64, slots: &mut [f64]) -> f64;
}

impl ScheduleFreeRule for AdamWScheduleFree {
    const NAME: &'static str = "AdamWScheduleFree";
    const SLOTS: &'static [&'static str] = &["z", "exp_avg_sq"];
    fn beta(&self) -> f64 {
        self.betas.0
    }
    fn averaging(&self) -> (usize, f64, f64) {
        (self.warmup_steps, self.r, self.weight_lr_power)
    }
    // v ← β₂v + (1−β₂)g²;  u = g / (√(v/(1−β₂^(k+1))) + ε) + λy
    fn direction(&self, k: u64, g: f64, y: f64, slots: &mut [f64]) -> f64 {
        let beta2 = self.betas.1;
        let bias_correction2 = 1.0 - beta2.powf(k as f64 + 1.0);
        let v = &mut slots[0];
        *v = *v * beta2 + (1.0 - beta2) * g * g;
        let mut u = g / ((*v / bias_correction2).sqrt() + self.eps);
        if self.weight_decay != 0.0 {
            u += self.weight_decay * y;
        }
        u
    }
}

impl ScheduleFreeRule for SGDScheduleFree {
    const NAME: &'static str = "SGDScheduleFree";
    const SLOTS: &'static [&'static str] = &["z"];
    fn beta(&self) -> f64 {
        self.momentum
    }
    fn averaging(&self) -> (usize, f64, f64) {
        (self.warmup_steps, self.r, self.weight_lr_power)
    }
    // u = g + λy
    fn direction(&self, _k: u64, g: f64, y: f64, _slots: &mut [f64]) -> f64 {
        if self.weight_decay != 0.0 {
            g + self.weight_decay * y
        } else {
            g
        }
    }
}

/// A schedule-free optimizer ([`AdamWScheduleFree`] or [`SGDScheduleFree`])
/// with its parameters, z and moments (f64), the average's weights and the
/// train/eval mode.
pub struct ScheduleFreeOptimizer<R: ScheduleFreeRule> {
    group: SingleGroup<R>,
    slots: Slots,
    /// Steps taken.
    k: u64,
    /// Σ wᵢ.
    weight_sum: f64,
    /// γ_max (−1 before the first step, as in the package).
    lr_max: f64,
    /// Whether the parameters hold y (train) rather than x (eval).
    train_mode: bool,
}

impl<R: ScheduleFreeRule> ScheduleFreeOptimizer<R> {
    fn new(config: R, params: Vec<Tensor>) -> Self {
        let n = params.len();
        ScheduleFreeOptimizer {
            group: SingleGroup::new(config, params),
            slots: Slots::new(R::SLOTS, n),
            k: 0,
            weight_sum: 0.0,
            lr_max: -1.0,
            train_mode: true,
        }
    }

    /// Whether the parameters hold the training point y (else the average x).
    pub fn is_train_mode(&self) -> bool {
        self.train_mode
    }

    /// γₖ and cₖ of the next step; advances γ_max and Σw.
    fn schedule(&mut self) -> (f64, f64) {
        let (warmup, r, power) = self.group.config.averaging();
        let k = self.k as f64;
        let sched = if (self.k as usize) < warmup {
            (k + 1.0) / warmup as f64
        } else {
            1.0
        };
        let lr = self.group.config.lr() * sched;
        self.lr_max = f64::max(lr, self.lr_max);
        let weight = (k + 1.0).powf(r) * self.lr_max.powf(power);
        self.weight_sum += weight;
        let ckp1 = if self.weight_sum == 0.0 {
            0.0
        } else {
            weight / self.weight_sum
        };
        (lr, ckp1)
    }

    /// p ← lerp(p, z, w) for every parameter that has z.
    fn move_toward_z(&self, w: f64) {
        for (i, p) in self.group.params.iter().enumerate() {
            if let Some(st) = self.slots.get(i) {
                let v: Vec<f64> = p
                    .to_vec_f64()
                    .iter()
                    .zip(&st[0])
                    .map(|(&y, &z)| lerp(y, z, w))
                    .collect();
                write_param(p, v);
            }
        }
    }
}

impl<R: ScheduleFreeRule> Optimizer for ScheduleFreeOptimizer<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    /// # Panics
    /// In eval mode: the gradients were taken at x, not y (the package
    /// raises here too). Call [`Optimizer::train`] before the forward pass.
    fn step(&mut self, grads: &Gradients) {
        assert!(
            self.train_mode,
            "{}::step in eval mode: call train() before computing the gradients",
            R::NAME
        );
        let (lr, ckp1) = self.schedule();
        let beta = self.group.config.beta();
        let y_step = lr * (beta * (1.0 - ckp1) - 1.0);
        let nslots = R::SLOTS.len();
        let mut rest = vec![0.0; nslots - 1];
        for (i, p) in self.group.params.iter().enumerate() {
            let Some(g) = grads.get(p) else { continue };
            let g = g.to_vec_f64();
            let mut y = p.to_vec_f64();
            let st = self.slots.get_or_init(i, || {
                let mut v = vec![y.clone()];
                v.extend((1..nslots).map(|_| vec![0.0; y.len()]));
                v
            });
            for j in 0..y.len() {
                for (s, r) in rest.iter_mut().enumerate() {
                    *r = st[s + 1][j];
                }
                let u = self.group.config.direction(self.k, g[j], y[j], &mut rest);
                for (s, r) in rest.iter().enumerate() {
                    st[s + 1][j] = *r;
                }
                y[j] = lerp(y[j], st[0][j], ckp1) + y_step * u;
                st[0][j] -= lr * u;
            }
            write_param(p, y);
        }
        self.k += 1;
    }

    /// x → y: p ← lerp(p, z, 1 − β).
    fn train(&mut self) {
        if !self.train_mode {
            self.move_toward_z(1.0 - self.group.config.beta());
            self.train_mode = true;
        }
    }

    /// y → x: p ← lerp(p, z, 1 − 1/β).
    fn eval(&mut self) {
        if self.train_mode {
            self.move_toward_z(1.0 - 1.0 / self.group.config.beta());
            self.train_mode = false;
        }
    }

    fn params(&self) -> Vec<Tensor> {
        self.group.params.clone()
    }

    /// Tensors `{i}.z` (and `{i}.exp_avg_sq` for AdamW) in f64; `k`,
    /// `weight_sum`, `lr_max` and `train_mode` in the document.
    fn state_dict(&self) -> OptimizerState {
        let (tensors, has) = self.slots.tensors(&self.group.params);
        let state = json!({
            "has": has,
            "k": self.k,
            "weight_sum": self.weight_sum,
            "lr_max": self.lr_max,
            "train_mode": self.train_mode,
        });
        self.group.state_dict(R::NAME, tensors, state)
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let (config, saved) = self.group.read(R::NAME, &state.meta)?;
        let has = read_has(R::NAME, &saved)?;
        let params = &self.group.params;
        let slots = self
            .slots
            .load(R::NAME, state, &has, params, &|i, _| params[i].numel())?;
        let k = saved["k"]
            .as_u64()
            .ok_or_else(|| state_error(R::NAME, "k: missing or not a count"))?;
        let train_mode = saved["train_mode"]
            .as_bool()
            .ok_or_else(|| state_error(R::NAME, "train_mode: missing or not a boolean"))?;
        self.weight_sum = read_f64(R::NAME, &saved, "weight_sum")?;
        self.lr_max = read_f64(R::NAME, &saved, "lr_max")?;
        self.k = k;
        self.train_mode = train_mode;
        self.slots = slots;
        self.group.config = config;
        Ok(())
    }

    fn load_state_dict_v1(&mut self, _state: &Value) -> Result<()> {
        Err(state_error(
            R::NAME,
            "checkpoint format 1 predates this optimizer",
        ))
    }
}

impl<R: ScheduleFreeRule> super::LrTarget for ScheduleFreeOptimizer<R> {
    fn num_groups(&self) -> usize {
        1
    }
    fn lr(&self, _g: usize) -> f64 {
        self.group.config.lr()
    }
    fn set_lr(&mut self, _g: usize, lr: f64) {
        self.group.config.set_lr(lr)
    }
    fn momentum(&self, _g: usize) -> Option<f64> {
        None
    }
    fn set_momentum(&mut self, _g: usize, _m: f64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_then_train_gives_back_y() {
        let w = Tensor::from_vec(vec![1.0f64, -2.0, 0.5], &[3]).requires_grad_(true);
        let mut opt = SGDScheduleFree::default()
            .lr(0.1)
            .build(vec![w.clone()])
            .unwrap();
        for _ in 0..5 {
            opt.step(&w.square().sum().backward());
        }
        let y = w.to_vec_f64();
        opt.eval();
        let x = w.to_vec_f64();
        assert_ne!(x, y);
        opt.eval(); // idempotent
        assert_eq!(w.to_vec_f64(), x);
        opt.train();
        for (a, b) in w.to_vec_f64().iter().zip(&y) {
            assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        }
        assert!(opt.is_train_mode());
    }

    #[test]
    #[should_panic(expected = "AdamWScheduleFree::step in eval mode")]
    fn a_step_in_eval_mode_is_refused() {
        let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
        let mut opt = AdamWScheduleFree::default().build(vec![w.clone()]).unwrap();
        opt.step(&w.square().sum().backward());
        opt.eval();
        opt.step(&w.square().sum().backward());
    }

    #[test]
    fn momentum_must_lie_strictly_between_zero_and_one() {
        assert!(SGDScheduleFree::default()
            .momentum(0.0)
            .build(vec![])
            .is_err());
        assert!(SGDScheduleFree::default()
            .momentum(1.0)
            .build(vec![])
            .is_err());
        assert!(AdamWScheduleFree::default()
            .betas((0.9, 1.0))
            .build(vec![])
            .is_err());
    }
}
