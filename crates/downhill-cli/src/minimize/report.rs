//! What `downhill minimize` prints and writes: the per-step lines, the
//! summary of each run, the distinct minima, the trace CSV.
use std::io::Write;
use std::path::Path;

use super::descent::{Stop, Trajectory, Verdict, PLATEAU_STEPS};
use super::escape::{distinct_minima, Hops};
use super::MinimizeArgs;
use crate::error::{CliError, Result};

/// Shortest round-trip digits: `0.6`, `1`, and `4.2e-10` rather than a
/// long run of zeros for very small or large magnitudes.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && a.is_finite() && !(1e-5..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// `x = 1, y = 2`.
pub fn point(names: &[String], values: &[f64]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n} = {}", num(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `x ∈ [-5, 5], y ∈ [0, 1]` (and `z = 1` for a variable without a box).
pub fn boxes(names: &[String], bounds: &[Option<(f64, f64)>]) -> String {
    names
        .iter()
        .zip(bounds)
        .map(|(n, b)| match b {
            Some((lo, hi)) => format!("{n} ∈ [{}, {}]", num(*lo), num(*hi)),
            None => format!("{n} from --init"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The box the contour plot must show for two bounded variables.
pub fn frame(bounds: &[Option<(f64, f64)>], start: &[f64]) -> Option<((f64, f64), (f64, f64))> {
    if bounds.len() != 2 {
        return None;
    }
    let side = |i: usize| bounds[i].unwrap_or((start[i] - 1.0, start[i] + 1.0));
    Some((side(0), side(1)))
}

/// `--init x=1,y=2` (also repeated: `--init x=1 --init y=2`) as start values.
pub fn parse_init(given: &[String], names: &[String]) -> Result<Vec<f64>> {
    let mut values = vec![0.0; names.len()];
    let mut seen = vec![false; names.len()];
    for item in given.iter().flat_map(|s| s.split(',')) {
        let item = item.trim();
        let Some((name, value)) = item.split_once('=') else {
            return Err(CliError::flag(
                "--init",
                format!("'{item}': expected NAME=VALUE, e.g. --init x=1,y=2"),
            ));
        };
        let name = name.trim();
        let Some(i) = names.iter().position(|n| n == name) else {
            return Err(CliError::flag(
                "--init",
                format!(
                    "'{name}' is not a variable of the expression (it has {})",
                    names.join(", ")
                ),
            ));
        };
        let v: f64 = match value.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                return Err(CliError::flag(
                    "--init",
                    format!("'{item}': the value is not a finite number"),
                ))
            }
        };
        if std::mem::replace(&mut seen[i], true) {
            return Err(CliError::flag("--init", format!("'{name}' given twice")));
        }
        values[i] = v;
    }
    Ok(values)
}

/// `Adam(lr=0.1, betas=(0.9, 0.999))`: the name and the hyperparameters given.
pub fn describe_optimizer(name: &str, hyper: &serde_json::Value) -> String {
    fn value(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Number(n) => n.as_f64().map_or(n.to_string(), |f| f.to_string()),
            serde_json::Value::Array(items) => {
                let items: Vec<String> = items.iter().map(value).collect();
                format!("({})", items.join(", "))
            }
            serde_json::Value::String(s) => format!("'{s}'"),
            other => other.to_string(),
        }
    }
    let mut parts = vec![];
    if let Some(obj) = hyper.as_object() {
        if let Some(lr) = obj.get("lr") {
            parts.push(format!("lr={}", value(lr)));
        }
        for (k, v) in obj.iter().filter(|(k, _)| *k != "lr") {
            parts.push(format!("{k}={}", value(v)));
        }
    }
    format!("{name}({})", parts.join(", "))
}

fn steps(k: usize) -> String {
    format!("{k} step{}", if k == 1 { "" } else { "s" })
}

/// `best f = 0.1 at x = 0.3 (step 4)`, or `f = … at …` when the best is the last.
fn best_text(t: &Trajectory, names: &[String]) -> String {
    let k = t.best();
    let (x, f) = (point(names, &t.points[k]), num(t.losses[k]));
    if k == t.steps() {
        format!("f = {f} at {x}")
    } else {
        let last = t.steps();
        format!(
            "best f = {f} at {x} (step {k}; the last step is at f = {})",
            num(t.losses[last])
        )
    }
}

/// One run's outcome: the verdict, when, and the best iterate.
pub fn outcome(t: &Trajectory, names: &[String]) -> String {
    let k = t.steps();
    let when = match (t.verdict(), t.stop) {
        (Verdict::Diverged, _) => format!("at step {k} (f = {})", num(t.losses[k])),
        (Verdict::Unbounded, Stop::Unbounded) => {
            format!("(f fell to {} by step {k}: no minimum)", num(t.losses[k]))
        }
        (Verdict::Unbounded, _) => format!(
            "(f still falling after {} with a growing gradient: no minimum ahead)",
            steps(k)
        ),
        (_, Stop::Converged(_) | Stop::Plateau) => format!("after {}", steps(k)),
        (Verdict::Oscillating, _) => format!("after {}, not converged", steps(k)),
        _ => format!("after {}", steps(k)),
    };
    let verdict = match (t.verdict(), t.stop) {
        (Verdict::Oscillating, Stop::Converged(_) | Stop::Plateau) => "oscillating, converged",
        (v, _) => v.word(),
    };
    format!("{verdict} {when}; {}", best_text(t, names))
}

/// Standard output of one command, honouring `--quiet`.
pub struct Out<'a> {
    out: std::io::StdoutLock<'static>,
    names: &'a [String],
    quiet: bool,
    tol: f64,
    source: String,
    every: usize,
    few: bool,
    printed: usize,
}

impl<'a> Out<'a> {
    pub fn new(args: &MinimizeArgs, names: &'a [String]) -> Self {
        Out {
            out: std::io::stdout().lock(),
            names,
            quiet: args.quiet,
            tol: args.tol,
            source: args.expr.trim().to_string(),
            every: args.steps.div_ceil(20).max(1),
            few: args.steps <= 20,
            printed: 0,
        }
    }

    /// `minimize EXPR <what>`.
    pub fn header(&mut self, what: &str) {
        if !self.quiet {
            let _ = writeln!(self.out, "minimize {} {what}", self.source);
        }
    }

    /// A line that `--quiet` keeps.
    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }

    /// A line that `--quiet` hides.
    fn detail(&mut self, text: &str) {
        if !self.quiet {
            let _ = writeln!(self.out, "{text}");
        }
    }

    /// About twenty of the steps of a single descent.
    pub fn step(&mut self, k: usize, x: &[f64], f: f64) {
        if self.few || k.is_multiple_of(self.every) {
            let line = format!("step {k}: {}  f = {}", point(self.names, x), num(f));
            self.detail(&line);
            self.printed = k;
        }
    }

    /// The last step of a single descent if it was not printed.
    pub fn last_step(&mut self, t: &Trajectory) {
        let k = t.steps();
        if k > self.printed {
            let line = format!(
                "step {k}: {}  f = {}",
                point(self.names, &t.points[k]),
                num(t.losses[k])
            );
            self.detail(&line);
        }
    }

    /// The final line of a single descent; 1 (after one line on stderr)
    /// when it diverged or f has no minimum.
    pub fn single_summary(&mut self, t: &Trajectory, hyper: &serde_json::Value) -> i32 {
        let k = t.steps();
        let best = best_text(t, self.names);
        let f = num(t.losses[k]);
        let line = match t.stop {
            Stop::Budget | Stop::Evaluations => {
                let what = if t.stop == Stop::Budget {
                    format!("step budget ({})", steps(k))
                } else {
                    format!("evaluation budget ({} evaluations, {})", t.evals, steps(k))
                };
                let mut line = format!("stopped: {what}; {best}");
                if t.falling_without_end() {
                    line.push_str(&format!(
                        " — f is still falling and its gradient growing over the last {PLATEAU_STEPS} steps: f seems to have no minimum (unbounded below)"
                    ));
                }
                line
            }
            Stop::Converged(norm) => format!(
                "stopped: converged after {} (gradient norm {norm:e} < {:e}); {best}",
                steps(k),
                self.tol
            ),
            Stop::Plateau => format!(
                "stopped: plateau after {} (f unchanged for {PLATEAU_STEPS} steps); {best}",
                steps(k)
            ),
            Stop::Unbounded => {
                return self.fail(&format!(
                    "f has no minimum: it fell to {f} by step {k} and keeps falling (unbounded below); a smaller learning rate will not change that"
                ))
            }
            Stop::Diverged => {
                let lr = hyper.get("lr").and_then(|v| v.as_f64()).unwrap_or(0.01);
                return self.fail(&format!(
                    "diverged at step {k} (f = {f}): the learning rate {lr} is too large; try --lr {}",
                    lr / 10.0
                ));
            }
            Stop::BadGradient | Stop::BadStart => {
                let x = point(self.names, &t.points[k]);
                return self.fail(&format!(
                    "the gradient is not finite at step {k} (f = {f} at {x})"
                ));
            }
        };
        self.line(&line);
        0
    }

    fn fail(&mut self, message: &str) -> i32 {
        let _ = self.out.flush();
        eprintln!("error: {message}");
        1
    }

    /// The distinct minima of a multistart, lowest first.
    pub fn minima(&mut self, runs: &[Trajectory], what: &str) {
        let minima = distinct_minima(runs);
        let n = runs.len();
        let head = format!(
            "{} distinct minim{}:",
            minima.len(),
            if minima.len() == 1 { "um" } else { "a" }
        );
        self.detail(&head);
        for m in &minima {
            let line = format!(
                "  f = {} at {} ({} of {n} {what})",
                num(m.value),
                point(self.names, &m.point),
                m.count
            );
            self.detail(&line);
        }
        let lost = n - minima.iter().map(|m| m.count).sum::<usize>();
        if lost > 0 {
            let line = format!("  diverged or unbounded: {lost} of {n} {what}");
            self.detail(&line);
        }
    }

    /// New best minima found while hopping, and the acceptance count.
    pub fn hops(&mut self, hops: &Hops) {
        let mut best = f64::INFINITY;
        for (i, t) in hops.runs.iter().enumerate() {
            let (x, f) = t.best_point();
            if hops.accepted[i] && f < best {
                best = f;
                let line = format!(
                    "hop {i}: new best f = {} at {}",
                    num(f),
                    point(self.names, x)
                );
                self.detail(&line);
            }
        }
        let accepted = hops.accepted.iter().skip(1).filter(|a| **a).count();
        let line = format!("accepted {accepted} of {} hops", hops.runs.len() - 1);
        self.detail(&line);
    }

    /// `best: f = … at … (N evaluations)`: the lowest of `runs`' best points.
    pub fn best<'t>(&mut self, runs: impl Iterator<Item = &'t Trajectory>, evals: usize) {
        let best = runs
            .map(|t| t.best_point())
            .filter(|(_, f)| f.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let line = match best {
            Some((x, f)) => format!(
                "best: f = {} at {} ({evals} evaluations of f and its gradient)",
                num(f),
                point(self.names, x)
            ),
            None => format!("best: none (every descent diverged; {evals} evaluations)"),
        };
        self.line(&line);
    }

    pub fn finish(mut self) {
        let _ = self.out.flush();
    }
}

/// Writes the trace atomically: a temporary file beside `path`, then a
/// rename. One run: `step,loss,<variables>`; several: `run,step,…`.
pub fn write_trace(path: &Path, names: &[String], runs: &[(String, Trajectory)]) -> Result<()> {
    let several = runs.len() > 1;
    let mut text = format!(
        "{}step,loss,{}\n",
        if several { "run," } else { "" },
        names.join(",")
    );
    for (name, t) in runs {
        for (k, (x, f)) in t.points.iter().zip(&t.losses).enumerate() {
            let x: Vec<String> = x.iter().map(|&v| num(v)).collect();
            if several {
                text.push_str(&format!("{name},"));
            }
            text.push_str(&format!("{k},{},{}\n", num(*f), x.join(",")));
        }
    }
    let fail = |e: std::io::Error| CliError::flag("--trace", format!("{}: {e}", path.display()));
    let file_name = path
        .file_name()
        .ok_or_else(|| fail(std::io::Error::other("not a file name")))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}
