//! L-BFGS with an optional strong-Wolfe line search: a port of
//! `torch.optim.LBFGS` (itself after minFunc), step for step.

use serde::{Deserialize, Serialize};

use super::hyper::hyperparameters;
use super::single::{single_group_lr_target, SingleGroup};
use super::state::{state_error, take_tensor};
use super::{check, Optimizer, OptimizerState};
use crate::{DType, Gradients, Result, Tensor};

/// How L-BFGS chooses its step length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineSearch {
    /// A fixed step of `lr` (PyTorch's `line_search_fn=None`).
    #[default]
    None,
    /// Bracketing and zooming until the strong Wolfe conditions hold.
    StrongWolfe,
}

/// Limited-memory BFGS (Liu & Nocedal, 1989), `torch.optim.LBFGS`:
/// d = −H·g with H built from the last `history_size` pairs
/// (s = θₖ₊₁ − θₖ, y = gₖ₊₁ − gₖ) by the two-loop recursion, H₀ = sᵀy/yᵀy;
/// θ ← θ + t·d with t = `lr` (the first step: min(1, 1/‖g‖₁)·lr) or a strong-Wolfe
/// line search; up to `max_iter` iterations per call of
/// [`Optimizer::step_with_closure`]. One parameter group; state in f64.
///
/// ```
/// use downhill::optim::{Lbfgs, LineSearch, Optimizer};
/// use downhill::Tensor;
/// // Rosenbrock from (−1.5, 2)
/// let xy = Tensor::from_vec(vec![-1.5f64, 2.0], &[2]).requires_grad_(true);
/// let mut opt = Lbfgs::default().line_search_fn(LineSearch::StrongWolfe).build(vec![xy.clone()]).unwrap();
/// let mut f = || {
///     let x = xy.narrow(0, 0, 1);
///     let y = xy.narrow(0, 1, 1);
///     let loss = ((1.0 - &x).square() + (&y - &x.square()).square().mul_scalar(100.0)).sum();
///     (loss.item(), loss.backward())
/// };
/// for _ in 0..10 {
///     opt.step_with_closure(&mut f);
/// }
/// assert!((xy.to_vec_f64()[0] - 1.0).abs() < 1e-4);
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Lbfgs {
    /// Step length (default 1).
    pub lr: f64,
    /// Iterations per step (default 20).
    pub max_iter: usize,
    /// Function evaluations per step (default max_iter·5/4).
    pub max_eval: Option<usize>,
    /// Stop when max |g| ≤ this (default 1e-7).
    pub tolerance_grad: f64,
    /// Stop when the step or loss change is below this (default 1e-9).
    pub tolerance_change: f64,
    /// Pairs (s, y) remembered (default 100).
    pub history_size: usize,
    /// Step-length rule (default none).
    pub line_search_fn: LineSearch,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Lbfgs {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            line_search_fn: LineSearch::None,
        }
    }
}

impl Lbfgs {
    /// Sets `lr`.
    pub fn lr(mut self, v: f64) -> Self {
        self.lr = v;
        self
    }
    /// Sets `max_iter`.
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Sets `history_size`.
    pub fn history_size(mut self, v: usize) -> Self {
        self.history_size = v;
        self
    }
    /// Sets `line_search_fn`.
    pub fn line_search_fn(mut self, v: LineSearch) -> Self {
        self.line_search_fn = v;
        self
    }

    /// An optimizer over `params` (one group).
    ///
    /// **Errors** if a hyperparameter is invalid.
    pub fn build(self, params: Vec<Tensor>) -> Result<LbfgsOptimizer> {
        check(self.lr > 0.0, "lr", format!("must be > 0, got {}", self.lr))?;
        check(self.history_size > 0, "history_size", "must be > 0")?;
        Ok(LbfgsOptimizer {
            group: SingleGroup::new(self, params),
            state: LbfgsState::default(),
        })
    }
}

hyperparameters!(Lbfgs { lr });

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
struct LbfgsState {
    func_evals: usize,
    n_iter: usize,
    d: Vec<f64>,
    t: f64,
    old_dirs: Vec<Vec<f64>>,
    old_stps: Vec<Vec<f64>>,
    ro: Vec<f64>,
    h_diag: f64,
    prev_flat_grad: Option<Vec<f64>>,
    prev_loss: Option<f64>,
}

/// An [`Lbfgs`] optimizer with its parameters and history.
pub struct LbfgsOptimizer {
    group: SingleGroup<Lbfgs>,
    state: LbfgsState,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `v + alpha·w` the way ATen's `add_(w, alpha=…)` computes it: one fused
/// multiply-add per element. L-BFGS amplifies last-bit differences, so this
/// matters for reproducing PyTorch's trajectories.
fn axpy(v: &mut [f64], alpha: f64, w: &[f64]) {
    for (vi, wi) in v.iter_mut().zip(w) {
        *vi = alpha.mul_add(*wi, *vi);
    }
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| f64::max(m, v.abs()))
}

fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (xmin, xmax) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        f64::min(f64::max(min_pos, xmin), xmax)
    } else {
        (xmin + xmax) / 2.0
    }
}

impl LbfgsOptimizer {
    fn flat_grad(&self, grads: &Gradients) -> Vec<f64> {
        self.group
            .params
            .iter()
            .flat_map(|p| {
                grads
                    .get(p)
                    .map(|g| g.to_vec_f64())
                    .unwrap_or_else(|| vec![0.0; p.numel()])
            })
            .collect()
    }

    /// θ ← θ + step·update over the flattened parameters.
    fn add_grad(&self, step: f64, update: &[f64]) {
        let mut off = 0;
        for p in &self.group.params {
            let n = p.numel();
            let mut v = p.to_vec_f64();
            axpy(&mut v, step, &update[off..off + n]);
            p.assign_(&Tensor::from_vec(v, p.shape()));
            off += n;
        }
    }

    fn clone_params(&self) -> Vec<Tensor> {
        self.group.params.iter().map(|p| p.detach()).collect()
    }

    fn set_params(&self, x: &[Tensor]) {
        for (p, v) in self.group.params.iter().zip(x) {
            p.assign_(v);
        }
    }

    fn directional_evaluate(
        &self,
        closure: &mut dyn FnMut() -> (f64, Gradients),
        x: &[Tensor],
        t: f64,
        d: &[f64],
    ) -> (f64, Vec<f64>) {
        self.add_grad(t, d);
        let (loss, grads) = closure();
        let g = self.flat_grad(&grads);
        self.set_params(x);
        (loss, g)
    }

    #[allow(clippy::too_many_arguments)]
    fn strong_wolfe(
        &self,
        closure: &mut dyn FnMut() -> (f64, Gradients),
        x: &[Tensor],
        mut t: f64,
        d: &[f64],
        f: f64,
        g: &[f64],
        gtd: f64,
    ) -> (f64, Vec<f64>, f64, usize) {
        let (c1, c2, tolerance_change, max_ls) =
            (1e-4, 0.9, self.group.config.tolerance_change, 25);
        let d_norm = max_abs(d);
        let (mut f_new, mut g_new) = self.directional_evaluate(closure, x, t, d);
        let mut ls_func_evals = 1;
        let mut gtd_new = dot(&g_new, d);
        let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f, g.to_vec(), gtd);
        let mut done = false;
        let mut ls_iter = 0;
        let mut bracket: Vec<f64> = Vec::new();
        let mut bracket_f: Vec<f64> = Vec::new();
        let mut bracket_g: Vec<Vec<f64>> = Vec::new();
        let mut bracket_gtd: Vec<f64> = Vec::new();
        while ls_iter < max_ls {
            if f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
                bracket = vec![t_prev, t];
                bracket_f = vec![f_prev, f_new];
                bracket_g = vec![g_prev.clone(), g_new.clone()];
                bracket_gtd = vec![gtd_prev, gtd_new];
                break;
            }
            if gtd_new.abs() <= -c2 * gtd {
                bracket = vec![t];
                bracket_f = vec![f_new];
                bracket_g = vec![g_new.clone()];
                done = true;
                break;
            }
            if gtd_new >= 0.0 {
                bracket = vec![t_prev, t];
                bracket_f = vec![f_prev, f_new];
                bracket_g = vec![g_prev.clone(), g_new.clone()];
                bracket_gtd = vec![gtd_prev, gtd_new];
                break;
            }
            let min_step = t + 0.01 * (t - t_prev);
            let max_step = t * 10.0;
            let tmp = t;
            t = cubic_interpolate(
                t_prev,
                f_prev,
                gtd_prev,
                t,
                f_new,
                gtd_new,
                Some((min_step, max_step)),
            );
            t_prev = tmp;
            f_prev = f_new;
            g_prev = g_new.clone();
            gtd_prev = gtd_new;
            (f_new, g_new) = self.directional_evaluate(closure, x, t, d);
            ls_func_evals += 1;
            gtd_new = dot(&g_new, d);
            ls_iter += 1;
        }
        if ls_iter == max_ls {
            bracket = vec![0.0, t];
            bracket_f = vec![f, f_new];
            bracket_g = vec![g.to_vec(), g_new.clone()];
            bracket_gtd = vec![gtd, gtd_new];
        }
        let mut insuf_progress = false;
        let (mut low, mut high) = if bracket_f[0] <= bracket_f[bracket_f.len() - 1] {
            (0, 1)
        } else {
            (1, 0)
        };
        while !done && ls_iter < max_ls {
            if (bracket[1] - bracket[0]).abs() * d_norm < tolerance_change {
                break;
            }
            t = cubic_interpolate(
                bracket[0],
                bracket_f[0],
                bracket_gtd[0],
                bracket[1],
                bracket_f[1],
                bracket_gtd[1],
                None,
            );
            let (bmax, bmin) = (
                f64::max(bracket[0], bracket[1]),
                f64::min(bracket[0], bracket[1]),
            );
            let eps = 0.1 * (bmax - bmin);
            if f64::min(bmax - t, t - bmin) < eps {
                if insuf_progress || t >= bmax || t <= bmin {
                    t = if (t - bmax).abs() < (t - bmin).abs() {
                        bmax - eps
                    } else {
                        bmin + eps
                    };
                    insuf_progress = false;
                } else {
                    insuf_progress = true;
                }
            } else {
                insuf_progress = false;
            }
            (f_new, g_new) = self.directional_evaluate(closure, x, t, d);
            ls_func_evals += 1;
            gtd_new = dot(&g_new, d);
            ls_iter += 1;
            if f_new > f + c1 * t * gtd || f_new >= bracket_f[low] {
                bracket[high] = t;
                bracket_f[high] = f_new;
                bracket_g[high] = g_new.clone();
                bracket_gtd[high] = gtd_new;
                (low, high) = if bracket_f[0] <= bracket_f[1] {
                    (0, 1)
                } else {
                    (1, 0)
                };
            } else {
                if gtd_new.abs() <= -c2 * gtd {
                    done = true;
                } else if gtd_new * (bracket[high] - bracket[low]) >= 0.0 {
                    bracket[high] = bracket[low];
                    bracket_f[high] = bracket_f[low];
                    bracket_g[high] = bracket_g[low].clone();
                    bracket_gtd[high] = bracket_gtd[low];
                }
                bracket[low] = t;
                bracket_f[low] = f_new;
                bracket_g[low] = g_new.clone();
                bracket_gtd[low] = gtd_new;
            }
        }
        let low = low.min(bracket.len() - 1);
        (
            bracket_f[low],
            bracket_g[low].clone(),
            bracket[low],
            ls_func_evals,
        )
    }
}

impl Optimizer for LbfgsOptimizer {
    fn name(&self) -> &'static str {
        "LBFGS"
    }

    fn needs_closure(&self) -> bool {
        true
    }

    /// **Panics**: L-BFGS re-evaluates the loss; use [`Optimizer::step_with_closure`].
    fn step(&mut self, _grads: &Gradients) {
        panic!("LBFGS: step needs to re-evaluate the loss; call step_with_closure");
    }

    fn step_with_closure(&mut self, closure: &mut dyn FnMut() -> (f64, Gradients)) -> f64 {
        let cfg = self.group.config.clone();
        let max_eval = cfg.max_eval.unwrap_or(cfg.max_iter * 5 / 4);
        let (orig_loss, grads) = closure();
        let mut loss = orig_loss;
        let mut current_evals = 1;
        self.state.func_evals += 1;
        let mut flat_grad = self.flat_grad(&grads);
        let mut opt_cond = max_abs(&flat_grad) <= cfg.tolerance_grad;
        if opt_cond {
            return orig_loss;
        }
        let mut st = std::mem::take(&mut self.state);
        let mut d = std::mem::take(&mut st.d);
        let mut t = st.t;
        let mut n_iter = 0;
        while n_iter < cfg.max_iter {
            n_iter += 1;
            st.n_iter += 1;
            if st.n_iter == 1 {
                d = flat_grad.iter().map(|g| -g).collect();
                st.old_dirs.clear();
                st.old_stps.clear();
                st.ro.clear();
                st.h_diag = 1.0;
            } else {
                let prev = st
                    .prev_flat_grad
                    .as_ref()
                    .expect("set after the first iteration");
                let y: Vec<f64> = flat_grad.iter().zip(prev).map(|(a, b)| a - b).collect();
                let s: Vec<f64> = d.iter().map(|v| v * t).collect();
                let ys = dot(&y, &s);
                if ys > 1e-10 {
                    if st.old_dirs.len() == cfg.history_size {
                        st.old_dirs.remove(0);
                        st.old_stps.remove(0);
                        st.ro.remove(0);
                    }
                    st.h_diag = ys / dot(&y, &y);
                    st.old_dirs.push(y);
                    st.old_stps.push(s);
                    st.ro.push(1.0 / ys);
                }
                let num_old = st.old_dirs.len();
                let mut al = vec![0.0; num_old];
                let mut q: Vec<f64> = flat_grad.iter().map(|g| -g).collect();
                for i in (0..num_old).rev() {
                    al[i] = dot(&st.old_stps[i], &q) * st.ro[i];
                    axpy(&mut q, -al[i], &st.old_dirs[i]);
                }
                let mut r: Vec<f64> = q.iter().map(|v| v * st.h_diag).collect();
                for (i, &al_i) in al.iter().enumerate() {
                    let be_i = dot(&st.old_dirs[i], &r) * st.ro[i];
                    axpy(&mut r, al_i - be_i, &st.old_stps[i]);
                }
                d = r;
            }
            st.prev_flat_grad = Some(flat_grad.clone());
            st.prev_loss = Some(loss);
            t = if st.n_iter == 1 {
                f64::min(1.0, 1.0 / flat_grad.iter().map(|g| g.abs()).sum::<f64>()) * cfg.lr
            } else {
                cfg.lr
            };
            let gtd = dot(&flat_grad, &d);
            if gtd > -cfg.tolerance_change {
                break;
            }
            let mut ls_func_evals = 0;
            match cfg.line_search_fn {
                LineSearch::StrongWolfe => {
                    let x_init = self.clone_params();
                    let (l, g, tt, evals) =
                        self.strong_wolfe(closure, &x_init, t, &d, loss, &flat_grad, gtd);
                    loss = l;
                    flat_grad = g;
                    t = tt;
                    ls_func_evals = evals;
                    self.add_grad(t, &d);
                    opt_cond = max_abs(&flat_grad) <= cfg.tolerance_grad;
                }
                LineSearch::None => {
                    self.add_grad(t, &d);
                    if n_iter != cfg.max_iter {
                        let (l, grads) = closure();
                        loss = l;
                        flat_grad = self.flat_grad(&grads);
                        opt_cond = max_abs(&flat_grad) <= cfg.tolerance_grad;
                        ls_func_evals = 1;
                    }
                }
            }
            current_evals += ls_func_evals;
            st.func_evals += ls_func_evals;
            if n_iter == cfg.max_iter || current_evals >= max_eval || opt_cond {
                break;
            }
            if max_abs(&d) * t.abs() <= cfg.tolerance_change {
                break;
            }
            if (loss - st.prev_loss.expect("set above")).abs() < cfg.tolerance_change {
                break;
            }
        }
        st.d = d;
        st.t = t;
        self.state = st;
        orig_loss
    }

    fn params(&self) -> Vec<Tensor> {
        self.group.params.clone()
    }

    /// Shared tensors (f64, over the flattened parameters of length n):
    /// `d` (n), `prev_flat_grad` (n), `old_dirs` and `old_stps` (k × n),
    /// `ro` (k); absent while empty. The counters, `t`, `h_diag` and
    /// `prev_loss` in the document.
    fn state_dict(&self) -> OptimizerState {
        let st = &self.state;
        let mut tensors = Vec::new();
        let flat = |v: &[f64]| Tensor::from_vec(v.to_vec(), &[v.len()]);
        if !st.d.is_empty() {
            tensors.push(("d".to_string(), flat(&st.d)));
        }
        if let Some(g) = &st.prev_flat_grad {
            tensors.push(("prev_flat_grad".to_string(), flat(g)));
        }
        let stack = |rows: &[Vec<f64>]| {
            let n = rows.first().map_or(0, Vec::len);
            Tensor::from_vec(rows.concat(), &[rows.len(), n])
        };
        if !st.old_dirs.is_empty() {
            tensors.push(("old_dirs".to_string(), stack(&st.old_dirs)));
            tensors.push(("old_stps".to_string(), stack(&st.old_stps)));
            tensors.push(("ro".to_string(), flat(&st.ro)));
        }
        let meta = serde_json::json!({
            "func_evals": st.func_evals,
            "n_iter": st.n_iter,
            "t": st.t,
            "h_diag": st.h_diag,
            "prev_loss": st.prev_loss,
        });
        self.group.state_dict("LBFGS", tensors, meta)
    }

    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()> {
        #[derive(Deserialize)]
        struct Scalars {
            func_evals: usize,
            n_iter: usize,
            t: f64,
            h_diag: f64,
            prev_loss: Option<f64>,
        }
        let (config, saved) = self.group.read("LBFGS", &state.meta)?;
        let s: Scalars =
            serde_json::from_value(saved).map_err(|e| state_error("LBFGS", e.to_string()))?;
        let n: usize = self.group.params.iter().map(|p| p.numel()).sum();
        let vector = |name: &str| -> Result<Option<Vec<f64>>> {
            match state.tensor(name) {
                None => Ok(None),
                Some(_) => Ok(Some(
                    take_tensor("LBFGS", state, name, &[n], DType::F64)?.to_vec_f64(),
                )),
            }
        };
        let d = vector("d")?.unwrap_or_default();
        let prev_flat_grad = vector("prev_flat_grad")?;
        let (old_dirs, old_stps, ro) = match state.tensor("old_dirs") {
            None => (vec![], vec![], vec![]),
            Some(t) => {
                let k = t.shape().first().copied().unwrap_or(0);
                let rows = |name: &str| -> Result<Vec<Vec<f64>>> {
                    let v = take_tensor("LBFGS", state, name, &[k, n], DType::F64)?.to_vec_f64();
                    Ok(v.chunks(n.max(1)).map(<[f64]>::to_vec).collect())
                };
                let ro = take_tensor("LBFGS", state, "ro", &[k], DType::F64)?.to_vec_f64();
                (rows("old_dirs")?, rows("old_stps")?, ro)
            }
        };
        self.group.config = config;
        self.state = LbfgsState {
            func_evals: s.func_evals,
            n_iter: s.n_iter,
            d,
            t: s.t,
            old_dirs,
            old_stps,
            ro,
            h_diag: s.h_diag,
            prev_flat_grad,
            prev_loss: s.prev_loss,
        };
        Ok(())
    }

    fn load_state_dict_v1(&mut self, state: &serde_json::Value) -> Result<()> {
        let (config, saved) = self.group.read("LBFGS", state)?;
        let st: LbfgsState =
            serde_json::from_value(saved).map_err(|e| state_error("LBFGS", e.to_string()))?;
        let n: usize = self.group.params.iter().map(|p| p.numel()).sum();
        if !st.d.is_empty() && st.d.len() != n {
            return Err(state_error(
                "LBFGS",
                format!("state for {} values, parameters have {n}", st.d.len()),
            ));
        }
        self.group.config = config;
        self.state = st;
        Ok(())
    }
}

single_group_lr_target!(LbfgsOptimizer);
