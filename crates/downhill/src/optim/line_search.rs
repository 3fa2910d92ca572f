//! Backtracking (Armijo) line search for plain gradient descent on general functions.

use crate::{Error, Gradients, Result, Tensor};

/// Backtracking line search (Armijo, 1966): from t = `initial_step`, shrink
/// t ← ρt until f(θ − t∇f) ≤ f(θ) − c·t·‖∇f‖², then take that step.
///
/// ```
/// use downhill::optim::BacktrackingLineSearch;
/// use downhill::Tensor;
/// let x = Tensor::scalar(1.0f64).requires_grad_(true);
/// let mut f = || { let l = x.square().mul_scalar(2.0); (l.item(), l.backward()) };
/// let ls = BacktrackingLineSearch::default();
/// let (loss, t) = ls.step(&[x.clone()], &mut f).unwrap();
/// assert_eq!(loss, 2.0);
/// assert!(x.item().abs() < 1.0 && t > 0.0);
/// ```
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BacktrackingLineSearch {
    /// First trial step (default 1).
    pub initial_step: f64,
    /// Shrink factor ρ in (0, 1) (default 0.5).
    pub shrink: f64,
    /// Sufficient-decrease constant c in (0, 1) (default 1e-4).
    pub c: f64,
    /// Trials before giving up (default 50).
    pub max_trials: usize,
}

impl Default for BacktrackingLineSearch {
    fn default() -> Self {
        BacktrackingLineSearch {
            initial_step: 1.0,
            shrink: 0.5,
            c: 1e-4,
            max_trials: 50,
        }
    }
}

impl BacktrackingLineSearch {
    /// One gradient-descent step on `params` with a step length found by
    /// backtracking; `f` evaluates the loss and its gradients at the current
    /// parameters. Returns (loss before the step, step length taken).
    ///
    /// **Errors** if no trial step decreases the loss enough (the parameters
    /// are then restored), or if the loss or gradient is not finite.
    pub fn step(
        &self,
        params: &[Tensor],
        f: &mut dyn FnMut() -> (f64, Gradients),
    ) -> Result<(f64, f64)> {
        let (f0, grads) = f();
        let g: Vec<Vec<f64>> = params
            .iter()
            .map(|p| {
                grads
                    .get(p)
                    .map(|g| g.to_vec_f64())
                    .unwrap_or_else(|| vec![0.0; p.numel()])
            })
            .collect();
        let g2: f64 = g.iter().flatten().map(|v| v * v).sum();
        if !f0.is_finite() || !g2.is_finite() {
            return Err(Error::NonFinite {
                context: format!("line search: loss {f0}, squared gradient norm {g2}"),
            });
        }
        let start: Vec<Tensor> = params.iter().map(|p| p.detach()).collect();
        let mut t = self.initial_step;
        for _ in 0..self.max_trials {
            for ((p, x0), gi) in params.iter().zip(&start).zip(&g) {
                let v: Vec<f64> = x0
                    .to_vec_f64()
                    .iter()
                    .zip(gi)
                    .map(|(x, g)| x - t * g)
                    .collect();
                p.assign_(&Tensor::from_vec(v, p.shape()));
            }
            let (ft, _) = crate::no_grad(&mut *f);
            if ft <= f0 - self.c * t * g2 {
                return Ok((f0, t));
            }
            t *= self.shrink;
        }
        for (p, x0) in params.iter().zip(&start) {
            p.assign_(x0);
        }
        Err(Error::NonFinite {
            context: format!("line search: no step down to {t:e} decreased the loss {f0} enough; the gradient may be wrong"),
        })
    }
}
