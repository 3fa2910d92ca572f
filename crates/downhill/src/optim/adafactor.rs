//! Adafactor: second moments factored into row and column statistics.

use serde::{Deserialize, Serialize};

use super::hyper::hyperparameters;
use super::single::{single_group_lr_target, SingleGroup};
use super::state::{state_error, take_tensor};
use super::{check, Optimizer, OptimizerState};
use crate::{DType, Gradients, Result, Tensor};

/// Adafactor (Shazeer & Stern, 2018), `torch.optim.Adafactor`:
///
/// β̂₂ₜ = 1 − t^τ;  ρₜ = min(γ, 1/√t);  αₜ = max(ε₂, RMS(θ))·ρₜ;  θ ← θ(1 − γλ);
/// for a matrix G: R ← β̂₂R + (1−β̂₂)·mean_cols(G²), C ← β̂₂C + (1−β̂₂)·mean_rows(G²),
/// V̂ = R·C / max(mean(R), ε₁) (a vector keeps V̂ ← β̂₂V̂ + (1−β̂₂)G² instead);
/// U = G / √max(V̂, ε₁²);  θ ← θ − αₜ·U / max(1, RMS(U)/d)
///
/// Tensors of more than two dimensions are factored over their last two.
/// The state is kept in f64 whatever the parameter dtype.
///
/// ```
/// use downhill::optim::{Adafactor, Optimizer};
/// let opt = Adafactor::default().build(vec![]).unwrap();
/// assert_eq!(opt.name(), "Adafactor");
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Adafactor {
    /// γ: the maximum relative step and the weight-decay scale (default 0.01).
    pub lr: f64,
    /// τ (default −0.8).
    pub beta2_decay: f64,
    /// (ε₁, ε₂): ε₁ `None` means the dtype's machine epsilon (default (None, 1e-3)).
    pub eps: (Option<f64>, f64),
    /// Clipping threshold d (default 1).
    pub d: f64,
    /// Decoupled weight decay λ (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adafactor {
    fn default() -> Self {
        Adafactor {
            lr: 1e-2,
            beta2_decay: -0.8,
            eps: (None, 1e-3),
            d: 1.0,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

impl Adafactor {
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
    /// An optimizer over `params`.
    ///
    /// **Errors** if a hyperparameter is invalid.
    pub fn build(self, params: Vec<Tensor>) -> Result<AdafactorOptimizer> {
        check(
            self.lr >= 0.0,
            "lr",
            format!("must be ≥ 0, got {}", self.lr),
        )?;
        check(
            self.beta2_decay <= 0.0,
            "beta2_decay",
            format!("must be ≤ 0, got {}", self.beta2_decay),
        )?;
        check(self.d >= 1.0, "d", format!("must be ≥ 1, got {}", self.d))?;
        check(
            self.weight_decay >= 0.0,
            "weight_decay",
            format!("must be ≥ 0, got {}", self.weight_decay),
        )?;
        let state = vec![None; params.len()];
        Ok(AdafactorOptimizer {
            group: SingleGroup::new(self, params),
            state,
        })
    }
}

hyperparameters!(Adafactor {
    lr,
    maximize: maximize
});

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct FactorState {
    step: u64,
    /// Row statistics [batch·rows] (matrices) or the full variance (vectors).
    row: Vec<f64>,
    /// Column statistics [batch·cols]; empty for vectors.
    col: Vec<f64>,
}

/// An [`Adafactor`] optimizer with its parameters and state.
pub struct AdafactorOptimizer {
    group: SingleGroup<Adafactor>,
    state: Vec<Option<FactorState>>,
}

fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

impl Optimizer for AdafactorOptimizer {
    fn name(&self) -> &'static str {
        "Adafactor"
    }

    fn step(&mut self, grads: &Gradients) {
        let cfg = &self.group.config;
        for (p, st) in self.group.params.iter().zip(&mut self.state) {
            let Some(g) = grads.get(p) else { continue };
            let mut g = g.to_vec_f64();
            if cfg.maximize {
                g.iter_mut().for_each(|v| *v = -*v);
            }
            let eps1 = cfg.eps.0.unwrap_or(match p.dtype() {
                DType::F32 => f32::EPSILON as f64,
                DType::F64 => f64::EPSILON,
            });
            let shape = p.shape().to_vec();
            let matrix = shape.len() > 1;
            let (rows, cols) = if matrix {
                (shape[shape.len() - 2], shape[shape.len() - 1])
            } else {
                (1, g.len())
            };
            let batch = if matrix {
                g.len() / (rows * cols).max(1)
            } else {
                1
            };
            let st = st.get_or_insert_with(|| FactorState {
                step: 0,
                row: vec![0.0; if matrix { batch * rows } else { g.len() }],
                col: vec![0.0; if matrix { batch * cols } else { 0 }],
            });
            st.step += 1;
            let t = st.step as f64;
            let one_minus_beta2 = t.powf(cfg.beta2_decay);
            let rho = f64::min(cfg.lr, 1.0 / t.sqrt());
            let mut theta = p.to_vec_f64();
            let n = theta.len() as f64;
            let rms_p = theta.iter().map(|v| v * v).sum::<f64>().sqrt() / n.sqrt();
            let alpha = f64::max(cfg.eps.1, rms_p) * rho;
            if cfg.weight_decay != 0.0 {
                let k = 1.0 - cfg.lr * cfg.weight_decay;
                theta.iter_mut().for_each(|v| *v *= k);
            }
            let mut update = vec![0.0; g.len()];
            if matrix {
                for b in 0..batch {
                    let gb = &g[b * rows * cols..(b + 1) * rows * cols];
                    for r in 0..rows {
                        let norm = gb[r * cols..(r + 1) * cols]
                            .iter()
                            .map(|v| v * v)
                            .sum::<f64>()
                            .sqrt();
                        let x = &mut st.row[b * rows + r];
                        *x = lerp(*x, norm * norm / cols as f64, one_minus_beta2);
                    }
                    for c in 0..cols {
                        let norm = (0..rows)
                            .map(|r| gb[r * cols + c] * gb[r * cols + c])
                            .sum::<f64>()
                            .sqrt();
                        let x = &mut st.col[b * cols + c];
                        *x = lerp(*x, norm * norm / rows as f64, one_minus_beta2);
                    }
                    let row = &st.row[b * rows..(b + 1) * rows];
                    let row_mean = (row.iter().sum::<f64>() / rows as f64).max(eps1);
                    for r in 0..rows {
                        for c in 0..cols {
                            let v = (row[r] * st.col[b * cols + c] / row_mean).max(eps1 * eps1);
                            update[b * rows * cols + r * cols + c] =
                                (1.0 / v.sqrt()) * gb[r * cols + c];
                        }
                    }
                }
            } else {
                for (i, &gi) in g.iter().enumerate() {
                    st.row[i] = lerp(st.row[i], gi * gi, one_minus_beta2);
                    update[i] = (1.0 / st.row[i].max(eps1 * eps1).sqrt()) * gi;
                }
            }
            let rms_u = update.iter().map(|v| v * v).sum::<f64>().sqrt() / (n.sqrt() * cfg.d);
            let step = -alpha / f64::max(1.0, rms_u);
            for (v, u) in theta.iter_mut().zip(&update) {
                *v += step * u;
            }
            p.assign_(&Tensor::from_vec(theta, &shape));
        }
    }

    fn params(&self) -> Vec<Tensor> {
        self.group.params.clone()
    }

    /// Tensors `{i}.row_var` and `{i}.col_var` (the factored statistics of a
    /// matrix, flattened over its leading dimensions) or `{i}.variance` (a
    /// vector's), in f64; the step counts in the document.
    fn state_dict(&self) -> OptimizerState {
        let mut tensors = Vec::new();
        let mut steps = Vec::new();
        for (i, (p, st)) in self.group.params.iter().zip(&self.state).enumerate() {
            let Some(st) = st else {
                steps.push(serde_json::Value::Null);
                continue;
            };
            steps.push(serde_json::json!({"step": st.step}));
            let vec1 = |v: &[f64]| Tensor::from_vec(v.to_vec(), &[v.len()]);
            if p.ndim() > 1 {
                tensors.push((OptimizerState::param_key(i, "row_var"), vec1(&st.row)));
                tensors.push((OptimizerState::param_key(i, "col_var"), vec1(&st.col)));
            } else {
                tensors.push((OptimizerState::param_key(i, "variance"), vec1(&st.row)));
            }
        }
        self.group
            .state_dict("Adafactor", tensors, serde_json::Value::Array(steps))
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        let (config, saved) = self.group.read("Adafactor", &state.meta)?;
        let saved = saved.as_array().cloned().unwrap_or_default();
        self.group.check_count("Adafactor", saved.len())?;
        let mut all = Vec::new();
        for (i, (p, s)) in self.group.params.iter().zip(&saved).enumerate() {
            if s.is_null() {
                all.push(None);
                continue;
            }
            let step = s["step"]
                .as_u64()
                .ok_or_else(|| state_error("Adafactor", format!("parameter {i}: no step count")))?;
            let shape = p.shape();
            let n = p.numel();
            let read = |slot: &str, len: usize| {
                take_tensor(
                    "Adafactor",
                    state,
                    &OptimizerState::param_key(i, slot),
                    &[len],
                    DType::F64,
                )
                .map(|t| t.to_vec_f64())
            };
            let st = if shape.len() > 1 {
                let (rows, cols) = (shape[shape.len() - 2], shape[shape.len() - 1]);
                let batch = n / (rows * cols).max(1);
                FactorState {
                    step,
                    row: read("row_var", batch * rows)?,
                    col: read("col_var", batch * cols)?,
                }
            } else {
                FactorState {
                    step,
                    row: read("variance", n)?,
                    col: Vec::new(),
                }
            };
            all.push(Some(st));
        }
        self.group.config = config;
        self.state = all;
        Ok(())
    }

    fn load_state_dict_v1(&mut self, state: &serde_json::Value) -> Result<()> {
        let (config, saved) = self.group.read("Adafactor", state)?;
        let st: Vec<Option<FactorState>> =
            serde_json::from_value(saved).map_err(|e| state_error("Adafactor", e.to_string()))?;
        self.group.check_count("Adafactor", st.len())?;
        self.group.config = config;
        self.state = st;
        Ok(())
    }
}

single_group_lr_target!(AdafactorOptimizer);
