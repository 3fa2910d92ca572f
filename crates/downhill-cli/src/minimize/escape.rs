//! Ways out of a local minimum for `downhill minimize`: seeded multistart
//! (`--restarts N --bounds x=-5:5,y=-5:5`) and basin hopping
//! (`--basin-hopping N`, scipy's `basinhopping` semantics).
use downhill::Generator;

use super::descent::{Local, Stop, Trajectory};
use crate::error::{CliError, Result};

/// `--bounds x=-5:5,y=-5:5`: a box per variable, `None` for a variable not
/// named (it keeps its `--init` value).
pub fn parse_bounds(given: &[String], names: &[String]) -> Result<Vec<Option<(f64, f64)>>> {
    let mut boxes = vec![None; names.len()];
    for item in given.iter().flat_map(|s| s.split(',')) {
        let item = item.trim();
        let bad = |why: &str| CliError::flag("--bounds", format!("'{item}': {why}"));
        let (name, range) = item
            .split_once('=')
            .ok_or_else(|| bad("expected NAME=LO:HI, e.g. --bounds x=-5:5,y=-5:5"))?;
        let i = names.iter().position(|n| n == name.trim()).ok_or_else(|| {
            bad(&format!(
                "not a variable of the expression (it has {})",
                names.join(", ")
            ))
        })?;
        let (lo, hi) = range
            .split_once(':')
            .ok_or_else(|| bad("expected LO:HI, e.g. -5:5"))?;
        let (lo, hi) = match (lo.trim().parse::<f64>(), hi.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() && a < b => (a, b),
            _ => return Err(bad("LO and HI must be finite numbers with LO < HI")),
        };
        if boxes[i].replace((lo, hi)).is_some() {
            return Err(bad("given twice"));
        }
    }
    Ok(boxes)
}

/// A local minimum reached by one or more descents.
pub struct Minimum {
    pub point: Vec<f64>,
    pub value: f64,
    /// How many descents ended here.
    pub count: usize,
}

/// Groups the best points of `runs` into distinct minima (points within
/// 1e-3·max(1, |x|) in every coordinate of a minimum's first point are the
/// same), lowest f first; diverged runs are left out.
pub fn distinct_minima(runs: &[Trajectory]) -> Vec<Minimum> {
    let mut minima: Vec<Minimum> = vec![];
    for t in runs {
        if matches!(
            t.stop,
            Stop::Diverged | Stop::BadGradient | Stop::BadStart | Stop::Unbounded
        ) {
            continue;
        }
        let (x, f) = t.best_point();
        let same = |m: &Minimum| {
            m.point
                .iter()
                .zip(x)
                .all(|(a, b)| (a - b).abs() <= 1e-3 * a.abs().max(1.0))
        };
        match minima.iter_mut().find(|m| same(m)) {
            Some(m) => {
                m.count += 1;
                if f < m.value {
                    (m.value, m.point) = (f, x.to_vec());
                }
            }
            None => minima.push(Minimum {
                point: x.to_vec(),
                value: f,
                count: 1,
            }),
        }
    }
    minima.sort_by(|a, b| a.value.total_cmp(&b.value));
    minima
}

/// `n` descents from starts drawn uniformly in `bounds` (seeded; an
/// unbounded variable starts at `init`), until the evaluation budget runs out.
pub fn restarts(
    local: &Local,
    init: &[f64],
    bounds: &[Option<(f64, f64)>],
    n: usize,
    evals_left: &mut usize,
    rng: &mut Generator,
) -> Result<Vec<Trajectory>> {
    let mut runs = vec![];
    for _ in 0..n {
        if *evals_left == 0 {
            break;
        }
        let start: Vec<f64> = init
            .iter()
            .zip(bounds)
            .map(|(&x, b)| b.map_or(x, |(lo, hi)| rng.uniform(lo, hi)))
            .collect();
        runs.push(local.descend(&start, evals_left, rng, &mut |_, _, _| {})?);
    }
    Ok(runs)
}

/// Settings of [`basin_hopping`], named as scipy names them.
pub struct Hopping {
    /// `niter`: hops after the first local minimization.
    pub niter: usize,
    /// `T`: the Metropolis temperature (0: only downhill hops are accepted).
    pub temperature: f64,
    /// `stepsize`: the largest random displacement per coordinate.
    pub stepsize: f64,
}

/// What basin hopping visited: every local descent (the first from
/// `init`), whether each hop was accepted, and the index of the best.
pub struct Hops {
    pub runs: Vec<Trajectory>,
    pub accepted: Vec<bool>,
    pub best: usize,
}

fn minimized(t: &Trajectory) -> bool {
    !matches!(
        t.stop,
        Stop::Diverged | Stop::BadGradient | Stop::BadStart | Stop::Unbounded
    )
}

/// scipy's `basinhopping`: displace every coordinate of the current
/// minimum by U(−stepsize, stepsize), minimize locally with the chosen
/// optimizer, accept by Metropolis (`exp(−(f_new − f_old)/T) ≥ U(0, 1)`,
/// and only a successful descent, unless the current one failed too),
/// keep the best successful minimum; every 50 hops the step size is
/// divided by 0.9 when more than half the hops were accepted, else
/// multiplied by 0.9 (scipy's `AdaptiveStepsize`). A descent succeeds
/// unless it diverged or fell without bound.
pub fn basin_hopping(
    local: &Local,
    init: &[f64],
    h: &Hopping,
    evals_left: &mut usize,
    rng: &mut Generator,
) -> Result<Hops> {
    const INTERVAL: usize = 50;
    const FACTOR: f64 = 0.9;
    const TARGET_ACCEPT: f64 = 0.5;
    let first = local.descend(init, evals_left, rng, &mut |_, _, _| {})?;
    let mut current = 0;
    let mut hops = Hops {
        runs: vec![first],
        accepted: vec![true],
        best: 0,
    };
    let beta = if h.temperature == 0.0 {
        f64::INFINITY
    } else {
        1.0 / h.temperature
    };
    let (mut stepsize, mut naccept) = (h.stepsize, 0usize);
    for step in 1..=h.niter {
        if *evals_left == 0 {
            break;
        }
        if step % INTERVAL == 0 {
            let rate = naccept as f64 / step as f64;
            stepsize = if rate > TARGET_ACCEPT {
                stepsize / FACTOR
            } else {
                stepsize * FACTOR
            };
        }
        let (x_old, f_old) = {
            let (x, f) = hops.runs[current].best_point();
            (x.to_vec(), f)
        };
        let trial: Vec<f64> = x_old
            .iter()
            .map(|x| x + rng.uniform(-stepsize, stepsize))
            .collect();
        let t = local.descend(&trial, evals_left, rng, &mut |_, _, _| {})?;
        let f_new = t.best_point().1;
        let prod = -(f_new - f_old) * beta;
        // scipy: 0·∞ is NaN there and exp(min(0, NaN)) = 1: equal values are accepted.
        let w = if prod.is_nan() {
            1.0
        } else {
            prod.min(0.0).exp()
        };
        let u = rng.next_f64();
        let ok = minimized(&t);
        let accept = w >= u && (ok || !minimized(&hops.runs[current]));
        hops.runs.push(t);
        hops.accepted.push(accept);
        let i = hops.runs.len() - 1;
        if accept {
            naccept += 1;
            current = i;
            let best = &hops.runs[hops.best];
            if ok && (f_new < best.best_point().1 || !minimized(best)) {
                hops.best = i;
            }
        }
    }
    Ok(hops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["x".into(), "y".into()]
    }

    #[test]
    fn bounds_parse_and_errors_name_the_flag() {
        let b = parse_bounds(&["x=-5:5,y=0:1".into()], &names()).unwrap();
        assert_eq!(b, vec![Some((-5.0, 5.0)), Some((0.0, 1.0))]);
        let b = parse_bounds(&["y=-1:2".into()], &names()).unwrap();
        assert_eq!(b, vec![None, Some((-1.0, 2.0))]);
        for (bad, want) in [
            ("x", "expected NAME=LO:HI"),
            ("z=0:1", "not a variable"),
            ("x=1", "expected LO:HI"),
            ("x=2:1", "LO < HI"),
            ("x=a:1", "finite numbers"),
            ("x=0:1,x=0:2", "given twice"),
        ] {
            let e = parse_bounds(&[bad.into()], &names())
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("--bounds: ") && e.contains(want),
                "{bad}: {e}"
            );
        }
    }

    fn local<'a>(expr: &'a downhill_cli::expr::Expr, hyper: &'a serde_json::Value) -> Local<'a> {
        Local {
            expr,
            optimizer: "GradientDescent",
            hyper,
            steps: 200,
            tol: 1e-6,
            noise: 0.0,
        }
    }

    #[test]
    fn restarts_find_both_minima_of_a_double_well() {
        // (x² − 1)² has minima at ±1.
        let expr = downhill_cli::expr::parse("(x^2 - 1)^2").unwrap();
        let hyper = serde_json::json!({"lr": 0.05});
        let l = local(&expr, &hyper);
        let mut budget = usize::MAX;
        let runs = restarts(
            &l,
            &[0.0],
            &[Some((-2.0, 2.0))],
            12,
            &mut budget,
            &mut Generator::new(3),
        )
        .unwrap();
        let m = distinct_minima(&runs);
        assert_eq!(
            m.len(),
            2,
            "{:?}",
            m.iter().map(|m| &m.point).collect::<Vec<_>>()
        );
        assert_eq!(m.iter().map(|m| m.count).sum::<usize>(), 12);
        let mut xs: Vec<f64> = m.iter().map(|m| m.point[0]).collect();
        xs.sort_by(f64::total_cmp);
        assert!(
            (xs[0] + 1.0).abs() < 1e-3 && (xs[1] - 1.0).abs() < 1e-3,
            "{xs:?}"
        );
        // The same seed gives the same starts.
        let again = restarts(
            &l,
            &[0.0],
            &[Some((-2.0, 2.0))],
            12,
            &mut { usize::MAX },
            &mut Generator::new(3),
        )
        .unwrap();
        let first = |r: &[Trajectory]| r.iter().map(|t| t.points[0][0]).collect::<Vec<_>>();
        assert_eq!(first(&runs), first(&again));
    }

    #[test]
    fn basin_hopping_leaves_the_shallow_well() {
        // x⁴/4 − x²/2 + 0.3x: a shallow well near x = 0.84, the deep one near x = −1.13.
        let expr = downhill_cli::expr::parse("x^4/4 - x^2/2 + 0.3*x").unwrap();
        let hyper = serde_json::json!({"lr": 0.1});
        let l = local(&expr, &hyper);
        let h = Hopping {
            niter: 30,
            temperature: 1.0,
            stepsize: 1.5,
        };
        let hops =
            basin_hopping(&l, &[1.0], &h, &mut { usize::MAX }, &mut Generator::new(0)).unwrap();
        assert!(
            hops.runs[0].best_point().0[0] > 0.5,
            "starts in the shallow well"
        );
        let (x, _) = hops.runs[hops.best].best_point();
        assert!((x[0] + 1.13).abs() < 0.01, "best {x:?}");
        assert_eq!(hops.runs.len(), 31);
    }

    #[test]
    fn the_evaluation_budget_is_shared() {
        let expr = downhill_cli::expr::parse("(x^2 - 1)^2").unwrap();
        let hyper = serde_json::json!({"lr": 0.001});
        let l = local(&expr, &hyper);
        let mut budget = 250;
        let runs = restarts(
            &l,
            &[0.0],
            &[Some((-2.0, 2.0))],
            10,
            &mut budget,
            &mut Generator::new(0),
        )
        .unwrap();
        assert_eq!(budget, 0);
        assert_eq!(runs.iter().map(|t| t.evals).sum::<usize>(), 250);
        assert_eq!(runs.len(), 2);
    }
}
