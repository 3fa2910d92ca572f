//! Muon: momentum orthogonalized by Newton–Schulz, for 2-D parameters.

use serde::{Deserialize, Serialize};

use super::hyper::hyperparameters;
use super::single::{single_group_lr_target, SingleGroup};
use super::state::{state_error, take_tensor};
use super::{check, Optimizer, OptimizerState};
use crate::{DType, Error, Gradients, Result, Tensor};

/// Muon (Jordan et al., 2024), `torch.optim.Muon`, for matrices:
///
/// B ← μB + (1−μ)G (a lerp);  U = G + μ(B − G) if nesterov, else B;
/// O = NS₅(U) (quintic Newton–Schulz: X ← X/‖X‖, then X ← aX + (bA + cA²)X with A = XXᵀ);
/// θ ← θ(1 − γλ);  θ ← θ − γ·√max(1, rows/cols)·O
///
/// The iteration runs in f64 (PyTorch uses bfloat16 there), as the reference
/// trajectory does.
///
/// ```
/// use downhill::optim::{Muon, Optimizer};
/// use downhill::Tensor;
/// let w = Tensor::zeros(&[3, 2]).requires_grad_(true);
/// let opt = Muon::default().build(vec![w]).unwrap();
/// assert_eq!(opt.name(), "Muon");
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Muon {
    /// Learning rate γ (default 0.001).
    pub lr: f64,
    /// Decoupled weight decay λ (default 0.1).
    pub weight_decay: f64,
    /// Momentum μ (default 0.95).
    pub momentum: f64,
    /// Nesterov momentum (default true).
    pub nesterov: bool,
    /// Newton–Schulz coefficients (a, b, c) (default (3.4445, −4.7750, 2.0315)).
    pub ns_coefficients: (f64, f64, f64),
    /// Floor of the normalizing norm (default 1e-7).
    pub eps: f64,
    /// Newton–Schulz iterations (default 5).
    pub ns_steps: usize,
    /// Learning-rate scaling: `None`/`"original"` (√max(1, A/B)) or `"match_rms_adamw"` (0.2·√max(A, B)).
    pub adjust_lr_fn: Option<String>,
}

impl Default for Muon {
    fn default() -> Self {
        Muon {
            lr: 1e-3,
            weight_decay: 0.1,
            momentum: 0.95,
            nesterov: true,
            ns_coefficients: (3.4445, -4.7750, 2.0315),
            eps: 1e-7,
            ns_steps: 5,
            adjust_lr_fn: None,
        }
    }
}

impl Muon {
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
    /// Sets `weight_decay`.
    pub fn weight_decay(mut self, v: f64) -> Self {
        self.weight_decay = v;
        self
    }

    /// An optimizer over 2-D `params`.
    ///
    /// **Errors** if a hyperparameter is invalid or a parameter is not 2-D.
    pub fn build(self, params: Vec<Tensor>) -> Result<MuonOptimizer> {
        check(
            self.lr >= 0.0,
            "lr",
            format!("must be ≥ 0, got {}", self.lr),
        )?;
        check(
            self.momentum >= 0.0,
            "momentum",
            format!("must be ≥ 0, got {}", self.momentum),
        )?;
        check(
            self.weight_decay >= 0.0,
            "weight_decay",
            format!("must be ≥ 0, got {}", self.weight_decay),
        )?;
        check(self.ns_steps < 100, "ns_steps", "must be below 100")?;
        check(
            matches!(
                self.adjust_lr_fn.as_deref(),
                None | Some("original") | Some("match_rms_adamw")
            ),
            "adjust_lr_fn",
            "must be \"original\" or \"match_rms_adamw\"",
        )?;
        if let Some(p) = params.iter().find(|p| p.ndim() != 2) {
            return Err(Error::InvalidArgument {
                name: "params".into(),
                message: format!(
                    "Muon only supports 2-D parameters, found one of shape {:?}",
                    p.shape()
                ),
            });
        }
        let state = vec![None; params.len()];
        Ok(MuonOptimizer {
            group: SingleGroup::new(self, params),
            state,
        })
    }
}

hyperparameters!(Muon {
    lr,
    momentum: momentum
});

/// A [`Muon`] optimizer with its parameters and momentum buffers.
pub struct MuonOptimizer {
    group: SingleGroup<Muon>,
    state: Vec<Option<Vec<f64>>>,
}

fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

/// Quintic Newton–Schulz orthogonalization of a rows×cols matrix, in f64.
fn newton_schulz(u: Vec<f64>, rows: usize, cols: usize, cfg: &Muon) -> Vec<f64> {
    crate::no_grad(|| {
        let (a, b, c) = cfg.ns_coefficients;
        let mut x = Tensor::from_vec(u, &[rows, cols]);
        if rows > cols {
            x = x.t();
        }
        let norm = x.square().sum().sqrt().item().max(cfg.eps);
        x = x.div_scalar(norm);
        for _ in 0..cfg.ns_steps {
            let gram = x.matmul(&x.t());
            let update = &gram.mul_scalar(b) + &gram.mul_scalar(c).matmul(&gram);
            x = &x.mul_scalar(a) + &update.matmul(&x);
        }
        if rows > cols {
            x = x.t();
        }
        x.to_vec_f64()
    })
}

impl Optimizer for MuonOptimizer {
    fn name(&self) -> &'static str {
        "Muon"
    }

    fn step(&mut self, grads: &Gradients) {
        let cfg = &self.group.config;
        for (p, st) in self.group.params.iter().zip(&mut self.state) {
            let Some(g) = grads.get(p) else { continue };
            let g = g.to_vec_f64();
            let (rows, cols) = (p.shape()[0], p.shape()[1]);
            let buf = st.get_or_insert_with(|| vec![0.0; g.len()]);
            for (b, &gi) in buf.iter_mut().zip(&g) {
                *b = lerp(*b, gi, 1.0 - cfg.momentum);
            }
            let update: Vec<f64> = if cfg.nesterov {
                g.iter()
                    .zip(buf.iter())
                    .map(|(&gi, &b)| lerp(gi, b, cfg.momentum))
                    .collect()
            } else {
                buf.clone()
            };
            let o = newton_schulz(update, rows, cols, cfg);
            let ratio = match cfg.adjust_lr_fn.as_deref() {
                Some("match_rms_adamw") => 0.2 * (rows.max(cols) as f64).sqrt(),
                _ => f64::max(1.0, rows as f64 / cols as f64).sqrt(),
            };
            let adjusted = cfg.lr * ratio;
            let decay = 1.0 - cfg.lr * cfg.weight_decay;
            let theta: Vec<f64> = p
                .to_vec_f64()
                .iter()
                .zip(&o)
                .map(|(&t, &oi)| t * decay + -adjusted * oi)
                .collect();
            p.assign_(&Tensor::from_vec(theta, &[rows, cols]));
        }
    }

    fn params(&self) -> Vec<Tensor> {
        self.group.params.clone()
    }

    /// Tensors `{i}.momentum_buffer` (f64, the parameter's shape).
    fn state_dict(&self) -> OptimizerState {
        let mut tensors = Vec::new();
        let mut saved = Vec::new();
        for (i, (p, st)) in self.group.params.iter().zip(&self.state).enumerate() {
            saved.push(st.is_some());
            if let Some(b) = st {
                tensors.push((
                    OptimizerState::param_key(i, "momentum_buffer"),
                    Tensor::from_vec(b.clone(), p.shape()),
                ));
            }
        }
        self.group
            .state_dict("Muon", tensors, serde_json::json!(saved))
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let (config, saved) = self.group.read("Muon", &state.meta)?;
        let saved: Vec<bool> =
            serde_json::from_value(saved).map_err(|e| state_error("Muon", e.to_string()))?;
        self.group.check_count("Muon", saved.len())?;
        let mut all = Vec::new();
        for (i, (p, has)) in self.group.params.iter().zip(saved).enumerate() {
            all.push(if has {
                let key = OptimizerState::param_key(i, "momentum_buffer");
                Some(take_tensor("Muon", state, &key, p.shape(), DType::F64)?.to_vec_f64())
            } else {
                None
            });
        }
        self.group.config = config;
        self.state = all;
        Ok(())
    }

    fn load_state_dict_v1(&mut self, state: &serde_json::Value) -> Result<()> {
        let (config, saved) = self.group.read("Muon", state)?;
        let st: Vec<Option<Vec<f64>>> =
            serde_json::from_value(saved).map_err(|e| state_error("Muon", e.to_string()))?;
        self.group.check_count("Muon", st.len())?;
        self.group.config = config;
        self.state = st;
        Ok(())
    }
}

single_group_lr_target!(MuonOptimizer);
