//! `downhill minimize EXPR`: gradient descent on an expression of named
//! variables, the gradient from the library's autograd.
use crate::error::{CliError, Result};
use crate::opt_args::{build_error, OptimizerArgs};
use crate::plot;
use downhill::{Gradients, Tensor};
use downhill_cli::expr::{self, Expr};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Flags of `downhill minimize`.
#[derive(clap::Args)]
pub struct MinimizeArgs {
    /// The expression, e.g. "(1 - x)^2 + 100*(y - x^2)^2": numbers, variables,
    /// + - * / ^, parentheses, exp log ln sqrt abs sin cos tan tanh sigmoid, pi, e.
    pub expr: String,
    /// Starting values, e.g. x=1,y=2 (others start at 0).
    #[arg(long, value_name = "NAME=VALUE,...", allow_hyphen_values = true)]
    pub init: Vec<String>,
    #[command(flatten)]
    pub optimizer: OptimizerArgs,
    /// Most optimizer steps.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Stop when the gradient norm is below this.
    #[arg(long, default_value_t = 1e-8)]
    pub tol: f64,
    /// Write step,loss,<variables> per step (row 0 = the start) to this CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub trace: Option<PathBuf>,
    /// Draw f per step to this PNG or SVG (for two variables also the path
    /// over the contours of f, in FILE-contour.png or .svg beside it).
    #[arg(long, value_name = "FILE.png|FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Print only the final line.
    #[arg(long)]
    pub quiet: bool,
    /// Write f and the variables per step as TensorBoard events into DIR.
    #[arg(long, value_name = "DIR")]
    pub tensorboard: Option<PathBuf>,
}

/// Consecutive steps with |Δf| ≤ 1e-12·max(1, |f|) that end a run as a plateau.
const PLATEAU_STEPS: usize = 10;
/// Consecutive growing steps before a large |f| counts as divergence.
const GROWTH_STEPS: usize = 3;
/// |f| beyond this multiple of max(1, |f₀|) (after growing) is divergence.
const DIVERGENCE_FACTOR: f64 = 1e6;

/// Why a run stopped.
enum Stop {
    Budget,
    Converged(f64),
    Plateau,
    /// f or a variable became non-finite, or f blew up.
    Diverged,
    /// The gradient is not finite where f is.
    BadGradient,
}

/// Runs the command; divergence exits with code 1 after printing one line.
pub fn run(args: MinimizeArgs) -> Result<()> {
    let expr = expr::parse(&args.expr)
        .map_err(|e| CliError::Other(format!("expression, column {}: {}", e.column, e.message)))?;
    let names = expr.variables();
    if names.is_empty() {
        return Err(CliError::Other(
            "expression: has no variables to minimize over".into(),
        ));
    }
    let start = parse_init(&args.init, &names)?;
    if !(args.tol.is_finite() && args.tol >= 0.0) {
        return Err(CliError::flag(
            "--tol",
            format!("must be a finite number ≥ 0, got {}", args.tol),
        ));
    }
    if let Some(p) = &args.plot {
        if !matches!(plot::extension(p).as_deref(), Some("png" | "svg")) {
            return Err(CliError::flag(
                "--plot",
                format!("{}: expected a .png or .svg file", p.display()),
            ));
        }
    }
    let (name, hyper) = args.optimizer.resolve("GradientDescent", 0.01)?;
    let params: Vec<Tensor> = start
        .iter()
        .map(|&v| Tensor::scalar(v).requires_grad_(true))
        .collect();
    let mut opt = downhill::optim::from_config(&name, &hyper, params.clone())
        .map_err(|e| build_error(&name, e))?;
    let lr = hyper.get("lr").and_then(|v| v.as_f64()).unwrap_or(0.01);

    let out = std::io::stdout();
    let mut out = out.lock();
    let (f0, mut grads) = evaluate(&expr, &params);
    if !f0.is_finite() {
        return Err(CliError::flag(
            "--init",
            format!(
                "f is not finite at the start ({} gives f = {f0})",
                point(&names, &start)
            ),
        ));
    }
    if !args.quiet {
        let _ = writeln!(
            out,
            "minimize {} with {}, from {}",
            args.expr.trim(),
            describe_optimizer(opt.name(), &hyper),
            point(&names, &start)
        );
    }
    let mut points = vec![start];
    let mut losses = vec![f0];
    let every = args.steps.div_ceil(20).max(1);
    let (mut flat, mut growth) = (0, 0);
    let mut printed = 0;
    let stop = loop {
        let k = losses.len() - 1;
        let f = losses[k];
        let g = gradient(&grads, &params);
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        if !norm.is_finite() {
            break Stop::BadGradient;
        }
        if norm < args.tol {
            break Stop::Converged(norm);
        }
        if k >= args.steps {
            break Stop::Budget;
        }
        let mut first = Some((f, grads));
        opt.step_with_closure(&mut || first.take().unwrap_or_else(|| evaluate(&expr, &params)));
        let (f_new, g_new) = evaluate(&expr, &params);
        grads = g_new;
        let x: Vec<f64> = params.iter().map(|p| p.item()).collect();
        let finite = f_new.is_finite() && x.iter().all(|v| v.is_finite());
        points.push(x);
        losses.push(f_new);
        if !args.quiet && (args.steps <= 20 || (k + 1) % every == 0) {
            let _ = writeln!(
                out,
                "step {}: {}  f = {}",
                k + 1,
                point(&names, &points[k + 1]),
                num(f_new)
            );
            printed = k + 1;
        }
        if !finite {
            break Stop::Diverged;
        }
        growth = if f_new.abs() > f.abs() { growth + 1 } else { 0 };
        if growth >= GROWTH_STEPS && f_new.abs() > DIVERGENCE_FACTOR * f0.abs().max(1.0) {
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
    let k = losses.len() - 1;
    let (f, x) = (num(losses[k]), point(&names, &points[k]));
    if !args.quiet && k > printed {
        let _ = writeln!(out, "step {k}: {x}  f = {f}");
    }
    if let Some(path) = &args.trace {
        write_trace(path, &names, &points, &losses)?;
    }
    if let Some(path) = &args.plot {
        let run = plot::Run {
            source: args.expr.trim(),
            expr: &expr,
            names: &names,
            points: &points,
            losses: &losses,
        };
        plot::draw(path, &run)?;
    }
    if let Some(dir) = &args.tensorboard {
        let ok = !matches!(stop, Stop::Diverged | Stop::BadGradient);
        let run = (args.expr.trim(), name.as_str(), lr);
        crate::tensorboard::write_minimize(dir, run, &names, &points, &losses, ok)?;
    }
    let steps = |k: usize| format!("{k} step{}", if k == 1 { "" } else { "s" });
    let line = match stop {
        Stop::Budget => format!("stopped: step budget ({}); f = {f} at {x}", steps(k)),
        Stop::Converged(norm) => format!(
            "stopped: converged after {} (gradient norm {norm:e} < {:e}); f = {f} at {x}",
            steps(k),
            args.tol
        ),
        Stop::Plateau => format!(
            "stopped: plateau after {} (f unchanged for {PLATEAU_STEPS} steps); f = {f} at {x}",
            steps(k)
        ),
        Stop::Diverged => {
            let _ = out.flush();
            eprintln!(
                "error: diverged at step {k} (f = {f}): the learning rate {lr} is too large; try --lr {}",
                lr / 10.0
            );
            std::process::exit(1);
        }
        Stop::BadGradient => {
            let _ = out.flush();
            eprintln!("error: the gradient is not finite at step {k} (f = {f} at {x})");
            std::process::exit(1);
        }
    };
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
    Ok(())
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

/// `--init x=1,y=2` (also repeated: `--init x=1 --init y=2`) as start values.
fn parse_init(given: &[String], names: &[String]) -> Result<Vec<f64>> {
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
fn point(names: &[String], values: &[f64]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n} = {}", num(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Adam(lr=0.1, betas=(0.9, 0.999))`: the name and the hyperparameters given.
fn describe_optimizer(name: &str, hyper: &serde_json::Value) -> String {
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

/// Writes the trace atomically: a temporary file beside `path`, then a rename.
fn write_trace(path: &Path, names: &[String], points: &[Vec<f64>], losses: &[f64]) -> Result<()> {
    let mut text = format!("step,loss,{}\n", names.join(","));
    for (k, (x, f)) in points.iter().zip(losses).enumerate() {
        let x: Vec<String> = x.iter().map(|&v| num(v)).collect();
        text.push_str(&format!("{k},{},{}\n", num(*f), x.join(",")));
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
