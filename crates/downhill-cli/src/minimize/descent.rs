//! One local descent of `downhill minimize`: the chosen optimizer from a
//! start until the gradient vanishes, f stops changing, the step budget or
//! the evaluation budget is used up, f blows up, or f falls without bound.
use downhill::{Generator, Gradients, Tensor};
use downhill_cli::expr::Expr;
use serde_json::Value;

use crate::error::Result;
use crate::opt_args::build_error;

/// Consecutive steps with |Δf| ≤ 1e-12·max(1, |f|) that end a run as a plateau.
pub const PLATEAU_STEPS: usize = 10;
/// Consecutive growing (or falling) steps before a large |f| counts as
/// divergence (or as f unbounded below).
const GROWTH_STEPS: usize = 3;
/// |f| beyond this multiple of max(1, |f₀|) (after growing) is divergence.
const DIVERGENCE_FACTOR: f64 = 1e6;
/// Exponent γ of the annealed gradient noise: variance σ²/(1 + k)^γ
/// (Neelakantan et al., "Adding Gradient Noise Improves Learning for Very
/// Deep Networks", 2015).
const NOISE_GAMMA: f64 = 0.55;

/// What every descent of a command shares.
pub struct Local<'a> {
    /// The expression.
    pub expr: &'a Expr,
    /// The optimizer's PyTorch name.
    pub optimizer: &'a str,
    /// Its hyperparameters (lr included).
    pub hyper: &'a Value,
    /// Most optimizer steps.
    pub steps: usize,
    /// Stop when the gradient norm is below this.
    pub tol: f64,
    /// σ of the annealed Gaussian gradient noise (0: none).
    pub noise: f64,
}

/// Why a descent stopped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// The step budget.
    Budget,
    /// The evaluation budget shared by all descents of the command.
    Evaluations,
    /// The gradient norm fell below the tolerance.
    Converged(f64),
    /// f unchanged for [`PLATEAU_STEPS`] steps.
    Plateau,
    /// f or a variable became non-finite, or |f| blew up.
    Diverged,
    /// f kept falling to −∞ (or below −1e6·max(1, |f₀|)).
    Unbounded,
    /// The gradient is not finite where f is.
    BadGradient,
    /// f is not finite at the start.
    BadStart,
}

/// What happened, in the words of a summary line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Converged,
    StillDescending,
    Oscillating,
    Diverged,
    Unbounded,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Converged => "converged",
            Verdict::StillDescending => "still descending",
            Verdict::Oscillating => "oscillating",
            Verdict::Diverged => "diverged",
            Verdict::Unbounded => "unbounded below",
        }
    }
}

/// The path of one descent: `points[k]` after k steps (the start first),
/// f there, and the gradient norm there (one fewer when the run ended on a
/// point whose gradient was not needed).
#[derive(Clone, Debug)]
pub struct Trajectory {
    pub points: Vec<Vec<f64>>,
    pub losses: Vec<f64>,
    pub grad_norms: Vec<f64>,
    pub stop: Stop,
    /// Evaluations of f and its gradient.
    pub evals: usize,
}

impl Trajectory {
    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.losses.len().saturating_sub(1)
    }

    /// The index of the lowest finite f seen (the first of equals).
    pub fn best(&self) -> usize {
        let mut best = 0;
        for (k, &f) in self.losses.iter().enumerate() {
            if f.is_finite() && (!self.losses[best].is_finite() || f < self.losses[best]) {
                best = k;
            }
        }
        best
    }

    /// The best point and its f.
    pub fn best_point(&self) -> (&[f64], f64) {
        let k = self.best();
        (&self.points[k], self.losses[k])
    }

    /// Whether most consecutive steps turn back (negative dot product of
    /// successive displacements).
    pub fn oscillates(&self) -> bool {
        let steps: Vec<Vec<f64>> = self
            .points
            .windows(2)
            .map(|w| w[1].iter().zip(&w[0]).map(|(b, a)| b - a).collect())
            .collect();
        let dots: Vec<f64> = steps
            .windows(2)
            .map(|w| w[0].iter().zip(&w[1]).map(|(a, b)| a * b).sum::<f64>())
            .filter(|d| d.is_finite() && *d != 0.0)
            .collect();
        dots.len() >= 2 && dots.iter().filter(|d| **d < 0.0).count() * 2 > dots.len()
    }

    /// f still falls at the end while the gradient does not shrink (over
    /// the last [`PLATEAU_STEPS`] steps): a sign that f has no minimum
    /// ahead, as for `-x^2` or `x`.
    pub fn falling_without_end(&self) -> bool {
        let n = self.losses.len().min(self.grad_norms.len());
        if n <= PLATEAU_STEPS {
            return false;
        }
        let (l, g) = (
            &self.losses[n - PLATEAU_STEPS - 1..n],
            &self.grad_norms[n - PLATEAU_STEPS - 1..n],
        );
        l.windows(2).all(|w| w[1] < w[0]) && g.windows(2).all(|w| w[1] >= w[0] * (1.0 - 1e-9))
    }

    /// Converged, still descending, oscillating, diverged or unbounded.
    pub fn verdict(&self) -> Verdict {
        match self.stop {
            Stop::Diverged | Stop::BadGradient | Stop::BadStart => Verdict::Diverged,
            Stop::Unbounded => Verdict::Unbounded,
            _ if self.oscillates() => Verdict::Oscillating,
            Stop::Converged(_) | Stop::Plateau => Verdict::Converged,
            Stop::Budget | Stop::Evaluations if self.falling_without_end() => Verdict::Unbounded,
            Stop::Budget | Stop::Evaluations => Verdict::StillDescending,
        }
    }
}

/// f and its gradients at the current parameters.
fn evaluate(expr: &Expr, params: &[Tensor]) -> (f64, Gradients) {
    let y = expr.eval_tensor(params);
    (y.item(), y.backward())
}

/// The gradient as numbers (0 for a variable the graph does not reach).
fn gradient(grads: &Gradients, params: &[Tensor]) -> Vec<f64> {
    params
        .iter()
        .map(|p| grads.get(p).map_or(0.0, |g| g.item()))
        .collect()
}

impl Local<'_> {
    /// Descends from `start`; `evals_left` is the evaluation budget left
    /// (decreased by what this run used), `rng` draws the gradient noise,
    /// `on_step(k, x, f)` sees every step.
    ///
    /// **Errors** naming the flag when the optimizer cannot be built.
    pub fn descend(
        &self,
        start: &[f64],
        evals_left: &mut usize,
        rng: &mut Generator,
        on_step: &mut dyn FnMut(usize, &[f64], f64),
    ) -> Result<Trajectory> {
        let params: Vec<Tensor> = start
            .iter()
            .map(|&v| Tensor::scalar(v).requires_grad_(true))
            .collect();
        let mut opt = downhill::optim::from_config(self.optimizer, self.hyper, params.clone())
            .map_err(|e| build_error(self.optimizer, e))?;
        let mut evals = 1;
        let (f0, mut grads) = evaluate(self.expr, &params);
        let mut t = Trajectory {
            points: vec![start.to_vec()],
            losses: vec![f0],
            grad_norms: vec![],
            stop: Stop::BadStart,
            evals: 0,
        };
        let (mut flat, mut growth, mut falling) = (0, 0, 0);
        t.stop = loop {
            if !f0.is_finite() {
                break Stop::BadStart;
            }
            let k = t.steps();
            let f = t.losses[k];
            let g = gradient(&grads, &params);
            let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            t.grad_norms.push(norm);
            if !norm.is_finite() {
                break Stop::BadGradient;
            }
            if norm < self.tol {
                break Stop::Converged(norm);
            }
            if k >= self.steps {
                break Stop::Budget;
            }
            if evals >= *evals_left {
                break Stop::Evaluations;
            }
            if self.noise > 0.0 {
                let sigma = self.noise / (1.0 + k as f64).powf(NOISE_GAMMA / 2.0);
                for (p, gi) in params.iter().zip(&g) {
                    grads.insert(p, Tensor::scalar(gi + sigma * rng.normal()));
                }
            }
            let mut first = Some((f, grads));
            let mut closure_evals = 0;
            opt.step_with_closure(&mut || {
                first.take().unwrap_or_else(|| {
                    closure_evals += 1;
                    evaluate(self.expr, &params)
                })
            });
            let (f_new, g_new) = evaluate(self.expr, &params);
            evals += 1 + closure_evals;
            grads = g_new;
            let x: Vec<f64> = params.iter().map(|p| p.item()).collect();
            let finite = f_new.is_finite() && x.iter().all(|v| v.is_finite());
            on_step(k + 1, &x, f_new);
            t.points.push(x);
            t.losses.push(f_new);
            if f_new == f64::NEG_INFINITY {
                break Stop::Unbounded;
            }
            if !finite {
                break Stop::Diverged;
            }
            falling = if f_new < f { falling + 1 } else { 0 };
            growth = if f_new.abs() > f.abs() { growth + 1 } else { 0 };
            let huge = f_new.abs() > DIVERGENCE_FACTOR * f0.abs().max(1.0);
            if huge && falling >= GROWTH_STEPS && f_new < 0.0 {
                break Stop::Unbounded;
            }
            if huge && growth >= GROWTH_STEPS {
                break Stop::Diverged;
            }
            flat = if (f_new - f).abs() <= 1e-12 * f_new.abs().max(1.0) {
                flat + 1
            } else {
                0
            };
            if flat >= PLATEAU_STEPS {
                break Stop::Plateau;
            }
        };
        t.evals = evals;
        *evals_left = evals_left.saturating_sub(evals);
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, lr: f64, steps: usize, start: f64) -> Trajectory {
        let expr = downhill_cli::expr::parse(src).unwrap();
        let hyper = serde_json::json!({ "lr": lr });
        let local = Local {
            expr: &expr,
            optimizer: "GradientDescent",
            hyper: &hyper,
            steps,
            tol: 1e-8,
            noise: 0.0,
        };
        local
            .descend(
                &[start],
                &mut { usize::MAX },
                &mut Generator::new(0),
                &mut |_, _, _| {},
            )
            .unwrap()
    }

    #[test]
    fn the_four_learning_rates_of_2x2() {
        // x ← (1 − 4·lr)·x: 0.96, 0.6, −0.8 and −1.2 per step.
        let v = |lr| run("2*x^2", lr, 100, 1.0).verdict();
        assert_eq!(v(0.01), Verdict::StillDescending);
        assert_eq!(v(0.1), Verdict::Converged);
        assert_eq!(v(0.45), Verdict::Oscillating);
        assert_eq!(v(0.55), Verdict::Diverged);
    }

    #[test]
    fn no_minimum_is_told_apart_from_divergence() {
        // −x² falls forever: first with a growing gradient, then to −1e6.
        assert_eq!(run("-x^2", 0.01, 100, 1.0).verdict(), Verdict::Unbounded);
        assert_eq!(run("-x^2", 0.1, 1000, 1.0).stop, Stop::Unbounded);
        assert_eq!(run("x", 0.1, 100, 0.0).verdict(), Verdict::Unbounded);
        // exp(−x) falls too, but its gradient shrinks: it is only slow.
        assert_eq!(
            run("exp(-x)", 0.1, 100, 0.0).verdict(),
            Verdict::StillDescending
        );
        assert_eq!(run("2*x^2", 1.5, 1000, 1.0).stop, Stop::Diverged);
    }

    #[test]
    fn the_best_iterate_is_kept() {
        // Oscillating around the minimum of |x|: the last point is not the best.
        let t = run("abs(x)", 0.3, 5, 0.1);
        let (x, f) = t.best_point();
        assert!(f <= *t.losses.last().unwrap());
        assert_eq!(x[0].abs(), f);
        assert!(t.best() < t.steps());
    }
}
