//! Sharpness-aware minimization (Foret et al., 2021) and its adaptive form
//! (ASAM, Kwon et al., 2021) around any optimizer, as `pytorch-optimizer`
//! 4.1.0's `SAM` does it: a two-step update with a closure.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::dense::write_param;
use super::state::{check_name, state_error};
use super::{check, LrTarget, Optimizer, OptimizerState};
use crate::{Gradients, Result, Tensor};

/// SAM's settings (`pytorch_optimizer.SAM`): at θ with gradient g,
///
/// ‖ĝ‖ = √(Σ‖gᵢ‖²) + ε_p (gᵢ·|θᵢ| in the norm when `adaptive`);
/// e = ρ·g/‖ĝ‖ (ρ·θ²·g/‖ĝ‖ when `adaptive`);
/// g' = ∇L(θ + e);  θ ← base step from θ with g'
///
/// The norm is computed in float32, as the package does (its
/// `get_global_gradient_norm` returns a float32 tensor whatever the
/// parameters' dtype), so trajectories match it in float64 too.
///
/// With `use_gc` (gradient centralization, Yong et al., 2020) the gradient
/// of every parameter with two or more dimensions has its mean over all
/// dimensions but the first subtracted before it perturbs θ:
/// gᵢ ← gᵢ − mean(gᵢ) per row. The norm ‖ĝ‖ is still that of the gradient
/// as computed, as in the package.
///
/// Each step evaluates the loss twice, so it needs
/// [`Optimizer::step_with_closure`] (the trainer always steps that way);
/// the loss returned is the one at θ.
///
/// ```
/// use downhill::optim::{Optimizer, Sam, Sgd};
/// use downhill::Tensor;
/// let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
/// let base = Sgd::default().lr(0.1).build(vec![w.clone()]).unwrap();
/// let mut opt = Sam::default().rho(0.05).wrap(Box::new(base)).unwrap();
/// for _ in 0..50 {
///     opt.step_with_closure(&mut || {
///         let l = w.square().sum();
///         (l.item(), l.backward())
///     });
/// }
/// // (−0.0025, 0.0050), as the package gives: the perturbation of size ρ
/// // keeps SAM circling the minimum of the bowl.
/// assert!(w.to_vec_f64().iter().all(|v| v.abs() < 0.01));
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sam {
    /// ρ, the radius of the neighbourhood (default 0.05).
    pub rho: f64,
    /// Adaptive SAM: scale the perturbation by θ² (default false).
    pub adaptive: bool,
    /// ε_p added to the gradient norm (default 1e-12).
    pub perturb_eps: f64,
    /// Centralize the gradients of parameters with two or more dimensions
    /// before perturbing (default false).
    #[serde(default)]
    pub use_gc: bool,
}

impl Default for Sam {
    fn default() -> Self {
        Sam {
            rho: 0.05,
            adaptive: false,
            perturb_eps: 1e-12,
            use_gc: false,
        }
    }
}

impl Sam {
    /// Sets `rho`.
    pub fn rho(mut self, v: f64) -> Self {
        self.rho = v;
        self
    }
    /// Sets `adaptive`.
    pub fn adaptive(mut self, v: bool) -> Self {
        self.adaptive = v;
        self
    }
    /// Sets `use_gc`.
    pub fn use_gc(mut self, v: bool) -> Self {
        self.use_gc = v;
        self
    }

    /// SAM around `base`.
    ///
    /// **Errors** if `rho` or `perturb_eps` is negative or not finite.
    pub fn wrap(self, base: Box<dyn Optimizer>) -> Result<SamOptimizer> {
        for (name, v) in [("rho", self.rho), ("perturb_eps", self.perturb_eps)] {
            check(
                v.is_finite() && v >= 0.0,
                name,
                format!("must be a finite number ≥ 0, got {v}"),
            )?;
        }
        Ok(SamOptimizer { config: self, base })
    }
}

/// A base optimizer stepped by [`Sam`]'s two-step update.
pub struct SamOptimizer {
    config: Sam,
    base: Box<dyn Optimizer>,
}

impl SamOptimizer {
    /// The wrapped optimizer.
    pub fn base(&self) -> &dyn Optimizer {
        self.base.as_ref()
    }

    /// ρ/‖ĝ‖ in float32, as the package computes it.
    fn scale(&self, params: &[Tensor], grads: &Gradients) -> f64 {
        let mut sum_sq = 0.0f32;
        for p in params {
            let Some(g) = grads.get(p) else { continue };
            let g = g.to_vec_f64();
            let sq: f64 = if self.config.adaptive {
                let t = p.to_vec_f64();
                g.iter().zip(&t).map(|(g, t)| (g * t.abs()).powi(2)).sum()
            } else {
                g.iter().map(|g| g * g).sum()
            };
            let norm = sq.sqrt() as f32;
            sum_sq += norm * norm;
        }
        let norm = sum_sq.sqrt() + self.config.perturb_eps as f32;
        ((1.0 / norm) * self.config.rho as f32) as f64
    }
}

/// Gradient centralization (`pytorch_optimizer.centralize_gradient`,
/// `gc_conv_only=False`): for two or more dimensions, each slice along the
/// first dimension has its mean subtracted; vectors and scalars are left as they are.
fn centralize(g: &mut [f64], shape: &[usize]) {
    if shape.len() < 2 || g.is_empty() {
        return;
    }
    let row = g.len() / shape[0];
    for r in g.chunks_mut(row) {
        let mean = r.iter().sum::<f64>() / row as f64;
        for v in r {
            *v -= mean;
        }
    }
}

impl Optimizer for SamOptimizer {
    fn name(&self) -> &'static str {
        "SAM"
    }

    fn needs_closure(&self) -> bool {
        true
    }

    /// # Panics
    /// Always: SAM re-evaluates the loss, so it needs
    /// [`Optimizer::step_with_closure`] (the package raises `NoClosureError`).
    fn step(&mut self, _grads: &Gradients) {
        panic!("SAM::step: SAM evaluates the gradient twice per step; call step_with_closure");
    }

    fn step_with_closure(&mut self, closure: &mut dyn FnMut() -> (f64, Gradients)) -> f64 {
        let (loss, grads) = closure();
        let params = self.base.params();
        let scale = self.scale(&params, &grads);
        let mut saved = Vec::new();
        for p in &params {
            let Some(g) = grads.get(p) else { continue };
            let theta = p.to_vec_f64();
            let mut g = g.to_vec_f64();
            if self.config.use_gc {
                centralize(&mut g, p.shape());
            }
            let perturbed = theta
                .iter()
                .zip(g)
                .map(|(&t, g)| {
                    let e = if self.config.adaptive { t * t * g } else { g };
                    t + e * scale
                })
                .collect();
            write_param(p, perturbed);
            saved.push((p.clone(), theta));
        }
        let (_, sharp) = closure();
        for (p, theta) in saved {
            write_param(&p, theta);
        }
        self.base.step(&sharp);
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

    /// The base's tensors; `{"optimizer": "SAM", "config", "base"}`.
    fn state_dict(&self) -> OptimizerState {
        let base = self.base.state_dict();
        OptimizerState {
            tensors: base.tensors,
            meta: json!({
                "optimizer": "SAM",
                "config": serde_json::to_value(&self.config).expect("configs serialize"),
                "base": base.meta,
            }),
        }
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        check_name("SAM", &state.meta)?;
        let config: Sam = serde_json::from_value(state.meta["config"].clone())
            .map_err(|e| state_error("SAM", format!("config: {e}")))?;
        let base = OptimizerState {
            tensors: state.tensors.clone(),
            meta: state.meta["base"].clone(),
        };
        self.base.load_state_dict(&base)?;
        self.config = config;
        Ok(())
    }

    fn load_state_dict_v1(&mut self, _state: &Value) -> Result<()> {
        Err(state_error(
            "SAM",
            "checkpoint format 1 predates this optimizer",
        ))
    }
}

lr_target_of_base!(SamOptimizer);
