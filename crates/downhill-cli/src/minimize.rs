//! `downhill minimize EXPR`: gradient descent on an expression of named
//! variables, the gradient from the library's autograd; several learning
//! rates side by side, seeded multistart, basin hopping and annealed
//! gradient noise to get out of a local minimum.
mod descent;
mod escape;
mod report;

use std::path::PathBuf;

use downhill::Generator;
use downhill_cli::expr;

use crate::error::{CliError, Result};
use crate::opt_args::{LrArg, OptimizerArgs};
use crate::plot;
use descent::{Local, Stop, Trajectory};
use report::{num, point, Out};

/// Flags of `downhill minimize`.
#[derive(clap::Args)]
pub struct MinimizeArgs {
    /// The expression, e.g. "(1 - x)^2 + 100*(y - x^2)^2" or "-x^2": numbers, variables,
    /// + - * / ^, parentheses, exp log ln sqrt abs sin cos tan tanh sigmoid, pi, e.
    #[arg(allow_hyphen_values = true)]
    pub expr: String,
    /// Starting values, e.g. x=1,y=2 (others start at 0).
    #[arg(long, value_name = "NAME=VALUE,...", allow_hyphen_values = true)]
    pub init: Vec<String>,
    #[command(flatten)]
    pub optimizer: OptimizerArgs,
    /// Most optimizer steps (per descent).
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Stop when the gradient norm is below this.
    #[arg(long, default_value_t = 1e-8)]
    pub tol: f64,
    /// N descents from starts drawn uniformly in --bounds; lists the distinct minima found.
    #[arg(long, value_name = "N")]
    pub restarts: Option<usize>,
    /// Boxes for the starts of --restarts, e.g. x=-5:5,y=-5:5 (a variable not named starts at --init).
    #[arg(long, value_name = "NAME=LO:HI,...", allow_hyphen_values = true)]
    pub bounds: Vec<String>,
    /// N hops of basin hopping (scipy's semantics) from --init: displace, descend, accept by Metropolis.
    #[arg(long = "basin-hopping", value_name = "N")]
    pub basin_hopping: Option<usize>,
    /// Basin hopping: the largest random displacement per variable.
    #[arg(long, default_value_t = 0.5)]
    pub stepsize: f64,
    /// Basin hopping: the Metropolis temperature T (0: only downhill hops).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Annealed Gaussian gradient noise: σ/(1+k)^0.275 added to each gradient component at step k.
    #[arg(allow_negative_numbers = true, long, value_name = "SIGMA")]
    pub noise: Option<f64>,
    /// Seed of the starts, the hops and the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Budget of evaluations of f and its gradient over all descents.
    #[arg(long = "max-evals", value_name = "N")]
    pub max_evals: Option<usize>,
    /// Write step,loss,<variables> per step (row 0 = the start) to this CSV
    /// (with several runs, a first column `run`).
    #[arg(long, value_name = "FILE.csv")]
    pub trace: Option<PathBuf>,
    /// Draw f per step to this PNG or SVG (for two variables also the paths
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

/// What the flags ask for.
enum Mode {
    /// One descent, every step printed.
    Single,
    /// One descent per learning rate.
    Rates(Vec<f64>),
    /// `--restarts N`.
    Restarts(usize, Vec<Option<(f64, f64)>>),
    /// `--basin-hopping N`.
    Hopping(escape::Hopping),
}

/// The checked flags.
struct Plan {
    expr: expr::Expr,
    names: Vec<String>,
    start: Vec<f64>,
    mode: Mode,
}

fn check_flags(args: &MinimizeArgs) -> Result<Plan> {
    let expr = expr::parse(&args.expr)
        .map_err(|e| CliError::Other(format!("expression, column {}: {}", e.column, e.message)))?;
    let names = expr.variables();
    if names.is_empty() {
        return Err(CliError::Other(
            "expression: has no variables to minimize over".into(),
        ));
    }
    let start = report::parse_init(&args.init, &names)?;
    let finite_at_least = |flag: &str, v: f64, lo: f64| {
        if v.is_finite() && v >= lo {
            Ok(())
        } else {
            Err(CliError::flag(
                flag,
                format!("must be a finite number ≥ {lo}, got {v}"),
            ))
        }
    };
    finite_at_least("--tol", args.tol, 0.0)?;
    if let Some(s) = args.noise {
        finite_at_least("--noise", s, 0.0)?;
    }
    if let Some(p) = &args.plot {
        if !matches!(plot::extension(p).as_deref(), Some("png" | "svg")) {
            return Err(CliError::flag(
                "--plot",
                format!("{}: expected a .png or .svg file", p.display()),
            ));
        }
    }
    if args.max_evals == Some(0) {
        return Err(CliError::flag("--max-evals", "must be at least 1"));
    }
    let rates = match &args.optimizer.lr {
        Some(LrArg::Auto) => {
            return Err(CliError::flag(
                "--lr",
                "auto is for `downhill train` (and `downhill lr-find`); give numbers here, e.g. --lr 0.01,0.1",
            ))
        }
        Some(LrArg::Values(v)) if v.len() > 1 => Some(v.clone()),
        _ => None,
    };
    let bounds = escape::parse_bounds(&args.bounds, &names)?;
    let mode = match (rates, args.restarts, args.basin_hopping) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err(CliError::flag(
                "--restarts",
                "choose one of several --lr values, --restarts and --basin-hopping",
            ))
        }
        (Some(r), None, None) => Mode::Rates(r),
        (None, Some(n), None) => {
            if n == 0 {
                return Err(CliError::flag("--restarts", "must be at least 1"));
            }
            if bounds.iter().all(Option::is_none) {
                return Err(CliError::flag(
                    "--restarts",
                    "needs --bounds for the starts, e.g. --bounds x=-5:5,y=-5:5",
                ));
            }
            Mode::Restarts(n, bounds)
        }
        (None, None, Some(n)) => {
            finite_at_least("--stepsize", args.stepsize, 0.0)?;
            finite_at_least("--temperature", args.temperature, 0.0)?;
            Mode::Hopping(escape::Hopping {
                niter: n,
                temperature: args.temperature,
                stepsize: args.stepsize,
            })
        }
        (None, None, None) => {
            if !args.bounds.is_empty() {
                return Err(CliError::flag("--bounds", "is for --restarts N"));
            }
            Mode::Single
        }
    };
    Ok(Plan {
        expr,
        names,
        start,
        mode,
    })
}

/// Runs the command: exit code 0, or 1 when the one descent diverged or f
/// has no minimum (after printing one line on stderr).
///
/// **Errors** (exit code 2) on any invalid flag or expression.
pub fn run(args: MinimizeArgs) -> Result<i32> {
    let plan = check_flags(&args)?;
    let one_lr = |lr: Option<f64>| -> Result<(String, serde_json::Value)> {
        let mut o = args.optimizer.clone();
        if let Some(lr) = lr {
            o.lr = Some(LrArg::Values(vec![lr]));
        }
        o.resolve("GradientDescent", 0.01)
    };
    let (name, hyper) = one_lr(None).or_else(|e| match &plan.mode {
        Mode::Rates(r) => one_lr(Some(r[0])),
        _ => Err(e),
    })?;
    let local = Local {
        expr: &plan.expr,
        optimizer: &name,
        hyper: &hyper,
        steps: args.steps,
        tol: args.tol,
        noise: args.noise.unwrap_or(0.0),
    };
    // A bad hyperparameter is refused before anything is printed.
    let probe = downhill::Tensor::zeros(&[1]).requires_grad_(true);
    downhill::optim::from_config(&name, &hyper, vec![probe])
        .map_err(|e| crate::opt_args::build_error(&name, e))?;
    let f0 = plan.expr.value(&plan.start);
    if !f0.is_finite() && !matches!(plan.mode, Mode::Restarts(..)) {
        return Err(CliError::flag(
            "--init",
            format!(
                "f is not finite at the start ({} gives f = {f0})",
                point(&plan.names, &plan.start)
            ),
        ));
    }
    let mut out = Out::new(&args, &plan.names);
    let mut rng = Generator::new(args.seed);
    let mut budget = args.max_evals.unwrap_or(usize::MAX);
    let runs: Vec<(String, Trajectory)>;
    let frame;
    let code = match &plan.mode {
        Mode::Single => {
            out.header(&format!(
                "with {}, from {}",
                report::describe_optimizer(&name, &hyper),
                point(&plan.names, &plan.start)
            ));
            let t = local.descend(&plan.start, &mut budget, &mut rng, &mut |k, x, f| {
                out.step(k, x, f)
            })?;
            out.last_step(&t);
            let code = out.single_summary(&t, &hyper);
            runs = vec![("path".to_string(), t)];
            frame = None;
            code
        }
        Mode::Rates(rates) => {
            out.header(&format!(
                "with {}, from {}, at {} learning rates",
                name,
                point(&plan.names, &plan.start),
                rates.len()
            ));
            let mut all = vec![];
            for &lr in rates {
                let (name, hyper) = one_lr(Some(lr))?;
                let l = Local {
                    optimizer: &name,
                    hyper: &hyper,
                    ..local
                };
                let t = l.descend(&plan.start, &mut budget, &mut rng, &mut |_, _, _| {})?;
                out.line(&format!(
                    "lr {}: {}",
                    num(lr),
                    report::outcome(&t, &plan.names)
                ));
                all.push((format!("lr {}", num(lr)), t));
            }
            runs = all;
            frame = None;
            0
        }
        Mode::Restarts(n, bounds) => {
            out.header(&format!(
                "with {}, {n} starts in {} (seed {})",
                report::describe_optimizer(&name, &hyper),
                report::boxes(&plan.names, bounds),
                args.seed
            ));
            let all = escape::restarts(&local, &plan.start, bounds, *n, &mut budget, &mut rng)?;
            out.minima(&all, "starts");
            let used: usize = all.iter().map(|t| t.evals).sum();
            out.best(all.iter(), used);
            frame = report::frame(bounds, &plan.start);
            runs = all
                .into_iter()
                .enumerate()
                .map(|(i, t)| (format!("start {}", i + 1), t))
                .collect();
            0
        }
        Mode::Hopping(h) => {
            out.header(&format!(
                "with {}, basin hopping: {} hops (stepsize {}, T {}) from {} (seed {})",
                report::describe_optimizer(&name, &hyper),
                h.niter,
                num(h.stepsize),
                num(h.temperature),
                point(&plan.names, &plan.start),
                args.seed
            ));
            let hops = escape::basin_hopping(&local, &plan.start, h, &mut budget, &mut rng)?;
            out.hops(&hops);
            let used: usize = hops.runs.iter().map(|t| t.evals).sum();
            out.best(std::iter::once(&hops.runs[hops.best]), used);
            frame = None;
            runs = hops
                .runs
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    (
                        if i == 0 {
                            "descent".into()
                        } else {
                            format!("hop {i}")
                        },
                        t,
                    )
                })
                .collect();
            0
        }
    };
    if let Some(path) = &args.trace {
        report::write_trace(path, &plan.names, &runs)?;
    }
    if let Some(dir) = &args.tensorboard {
        write_tensorboard(dir, &args, &plan.names, &name, &hyper, &runs)?;
    }
    if let Some(path) = &args.plot {
        let run = plot::Run {
            source: args.expr.trim(),
            expr: &plan.expr,
            names: &plan.names,
            paths: runs
                .iter()
                .map(|(n, t)| plot::Path2 {
                    name: n.clone(),
                    points: &t.points,
                    losses: &t.losses,
                    diverged: matches!(
                        t.stop,
                        Stop::Diverged | Stop::Unbounded | Stop::BadGradient
                    ),
                })
                .collect(),
            frame,
        };
        plot::draw(path, &run)?;
    }
    out.finish();
    Ok(code)
}

/// `--tensorboard DIR`: each trajectory's f per step as an event file (one
/// subdirectory per trajectory when there are several), with the
/// expression, optimizer and lr as hyperparameters.
fn write_tensorboard(
    dir: &std::path::Path,
    args: &MinimizeArgs,
    names: &[String],
    optimizer: &str,
    hyper: &serde_json::Value,
    runs: &[(String, descent::Trajectory)],
) -> Result<()> {
    let lr = hyper
        .get("lr")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN);
    for (label, t) in runs {
        let sub = if runs.len() == 1 {
            dir.to_path_buf()
        } else {
            dir.join(label.replace(' ', "_"))
        };
        let ok = !matches!(t.stop, descent::Stop::Diverged | descent::Stop::Unbounded);
        let lr = label
            .strip_prefix("lr ")
            .and_then(|v| v.parse().ok())
            .unwrap_or(lr);
        crate::tensorboard::write_minimize(
            &sub,
            (args.expr.trim(), optimizer, lr),
            names,
            &t.points,
            &t.losses,
            ok,
        )?;
    }
    Ok(())
}
