//! `downhill minimize`, run as a user would: output, exit codes, files.
use std::process::{Command, Output};

use crate::common::scratch;

fn downhill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_downhill"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn textbook_example() {
    let o = downhill(&[
        "minimize", "2*x^2", "--init", "x=1", "--lr", "0.1", "--steps", "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "minimize 2*x^2 with GradientDescent(lr=0.1), from x = 1\n\
         step 1: x = 0.6  f = 0.72\n\
         step 2: x = 0.36  f = 0.2592\n\
         stopped: step budget (2 steps); f = 0.2592 at x = 0.36\n"
    );
}

#[test]
fn trace_csv_has_a_row_per_step_from_the_start() {
    let dir = scratch("trace");
    let trace = dir.join("run.csv");
    let o = downhill(&[
        "minimize",
        "2*x^2 + y",
        "--init",
        "x=1",
        "--lr",
        "0.1",
        "--steps",
        "3",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[0], "step,loss,x,y");
    assert_eq!(lines[1], "0,2,1,0");
    assert_eq!(lines[2], "1,0.62,0.6,-0.1");
    for (k, line) in lines[1..].iter().enumerate() {
        let cells: Vec<f64> = line.split(',').map(|c| c.parse().unwrap()).collect();
        assert_eq!(cells[0], k as f64);
        let want = 2.0 * cells[2] * cells[2] + cells[3];
        assert!((cells[1] - want).abs() < 1e-12, "{line}");
    }
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn many_steps_print_about_twenty_lines() {
    let o = downhill(&["minimize", "(x-3)^2", "--steps", "100", "--tol", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let steps = out.lines().filter(|l| l.starts_with("step ")).count();
    assert_eq!(steps, 20, "{out}");
    assert!(out.contains("step 100: "), "{out}");
    let quiet = downhill(&["minimize", "(x-3)^2", "--quiet"]);
    assert_eq!(stdout(&quiet).lines().count(), 1);
}

#[test]
fn adam_converges_on_a_two_variable_quadratic() {
    let o = downhill(&[
        "minimize",
        "(x - 1)^2 + 10*(y + 2)^2 + x*y/2",
        "--init",
        "x=3,y=3",
        "--optimizer",
        "Adam",
        "--lr",
        "0.1",
        "--opt",
        "betas=0.9,0.999",
        "--steps",
        "3000",
        "--tol",
        "1e-4",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("minimize (x - 1)^2 + 10*(y + 2)^2 + x*y/2 with Adam(lr=0.1, betas=(0.9, 0.999)), from x = 3, y = 3\n"), "{out}");
    let last = out.lines().last().unwrap();
    assert!(last.starts_with("stopped: converged after"), "{out}");
    let xy: Vec<f64> = last
        .rsplit(" at ")
        .next()
        .unwrap()
        .split(", ")
        .map(|kv| kv.split(" = ").nth(1).unwrap().parse().unwrap())
        .collect();
    // The minimum: 2x + y/2 = 2 and x/2 + 20y = -40.
    let det = 2.0 * 20.0 - 0.25;
    let (xm, ym) = ((40.0 + 20.0) / det, (-80.0 - 1.0) / det);
    assert!(
        (xy[0] - xm).abs() < 1e-4 && (xy[1] - ym).abs() < 1e-4,
        "{last} vs ({xm}, {ym})"
    );
}

#[test]
fn lbfgs_minimizes_rosenbrock() {
    let o = downhill(&[
        "minimize",
        "(1 - x)^2 + 100*(y - x^2)^2",
        "--init",
        "x=-1.2,y=1",
        "--optimizer",
        "LBFGS",
        "--lr",
        "1",
        "--opt",
        "line_search_fn=strong_wolfe",
        "--steps",
        "50",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("stopped: converged") || last.starts_with("stopped: plateau"),
        "{out}"
    );
    let x: f64 = last
        .split("at x = ")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((x - 1.0).abs() < 1e-4, "{out}");
}

#[test]
fn divergence_exits_1_and_suggests_a_smaller_learning_rate() {
    let o = downhill(&[
        "minimize", "2*x^2", "--init", "x=1", "--lr", "1.5", "--steps", "1000",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: diverged at step "), "{err}");
    assert!(
        err.contains("the learning rate 1.5 is too large; try --lr 0.15"),
        "{err}"
    );
    // Non-finite values diverge too.
    let o = downhill(&["minimize", "exp(x^2)", "--init", "x=3", "--lr", "10"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("try --lr 1"), "{}", stderr(&o));
}

/// Exit code 2 and one stderr line containing `want`.
fn bad_input(args: &[&str], want: &str) {
    let mut all = vec!["minimize"];
    all.extend_from_slice(args);
    let o = downhill(&all);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: {err} lacks {want}");
    assert!(stdout(&o).is_empty(), "{args:?}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    bad_input(&["2*x + )"], "error: expression, column 7: unexpected ')'");
    bad_input(
        &["foo(x)"],
        "error: expression, column 1: unknown function 'foo'",
    );
    bad_input(
        &["2*(x+1"],
        "column 7: expected ')' to close '(' at column 3",
    );
    bad_input(&["   "], "expression, column 1: empty expression");
    bad_input(&["3 + 4"], "has no variables");
    bad_input(
        &["x^2", "--init", "x"],
        "error: --init: 'x': expected NAME=VALUE",
    );
    bad_input(
        &["x^2", "--init", "x=abc"],
        "--init: 'x=abc': the value is not a finite number",
    );
    bad_input(
        &["x^2", "--init", "y=1"],
        "--init: 'y' is not a variable of the expression (it has x)",
    );
    bad_input(
        &["x^2", "--lr", "-0.1"],
        "error: --lr: must be a finite number ≥ 0, got -0.1",
    );
    bad_input(
        &["x^2", "--opt", "foo=1"],
        "error: --opt foo: GradientDescent has no foo",
    );
    bad_input(
        &["x^2", "--opt", "betas"],
        "--opt betas: expected NAME=VALUE",
    );
    bad_input(
        &["x^2", "--optimizer", "Adam", "--momentum", "0.9"],
        "--momentum: Adam has no momentum",
    );
    bad_input(
        &["x^2", "--optimizer", "Adamm"],
        "error: --optimizer: 'Adamm': unknown optimizer",
    );
    bad_input(
        &["x^2", "--plot", "f.pdf"],
        "--plot: f.pdf: expected a .png or .svg file",
    );
    bad_input(&["x^2", "--steps", "ten"], "--steps");
    bad_input(
        &["sqrt(x)", "--init", "x=-1"],
        "--init: f is not finite at the start",
    );
}

#[test]
fn plots_png_and_svg() {
    let dir = scratch("plot");
    for (expr, init, file) in [
        ("(1 - x)^2 + 10*(y - x^2)^2", "x=-1,y=1", "two.png"),
        ("(1 - x)^2 + 10*(y - x^2)^2", "x=-1,y=1", "two.svg"),
        ("exp(x) - 2*x", "x=3", "one.png"),
        ("exp(x) - 2*x", "x=3", "one.SVG"),
    ] {
        let path = dir.join(file);
        let o = downhill(&[
            "minimize",
            expr,
            "--init",
            init,
            "--optimizer",
            "Adam",
            "--lr",
            "0.05",
            "--steps",
            "200",
            "--plot",
            path.to_str().unwrap(),
            "--quiet",
        ]);
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 1000, "{file}: {} bytes", bytes.len());
        if file.starts_with("two") {
            let contour = dir.join(file.replace("two.", "two-contour."));
            assert!(
                std::fs::metadata(&contour).unwrap().len() > 1000,
                "{file}: contour plot"
            );
        }
        if file.ends_with(".png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{file}");
        } else {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.contains("<svg") && text.contains("step"), "{file}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_leading_minus_is_an_expression_not_a_flag() {
    let o = downhill(&["minimize", "-x^2", "--init", "x=1", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("f seems to have no minimum (unbounded below)"),
        "{out}"
    );
    let o = downhill(&["minimize", "-(x-1)^2 + x^4", "--init", "x=-1", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn no_minimum_is_said_instead_of_blaming_the_learning_rate() {
    let o = downhill(&[
        "minimize", "-x^2", "--init", "x=1", "--steps", "1000", "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: f has no minimum: it fell to -"),
        "{err}"
    );
    assert!(!err.contains("too large"), "{err}");
    // A linear function falls forever with a constant gradient.
    let o = downhill(&["minimize", "3*x + 1", "--quiet"]);
    assert!(stdout(&o).contains("no minimum"), "{}", stdout(&o));
}

#[test]
fn the_best_iterate_is_reported_not_the_last() {
    // |x| with lr 0.3 from 0.1 jumps between 0.1 and -0.2: the best is the start.
    let o = downhill(&[
        "minimize", "abs(x)", "--init", "x=0.1", "--lr", "0.3", "--steps", "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let last = stdout(&o).lines().last().unwrap().to_string();
    assert!(
        last.starts_with("stopped: step budget (5 steps); best f = 0.1 at x = 0.1 (step 0; the last step is at f = 0.")
            && (last.contains("the last step is at f = 0.2")
                || last.contains("the last step is at f = 0.1999")),
        "{last}"
    );
}

#[test]
fn several_learning_rates_side_by_side() {
    let dir = scratch("rates");
    let plot = dir.join("lrs.png");
    let trace = dir.join("lrs.csv");
    let o = downhill(&[
        "minimize",
        "2*x^2",
        "--init",
        "x=1",
        "--lr",
        "0.01,0.1,0.45,0.55",
        "--plot",
        plot.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0]
        .starts_with("minimize 2*x^2 with GradientDescent, from x = 1, at 4 learning rates"));
    assert!(
        lines[1].starts_with("lr 0.01: still descending after 100 steps; f = "),
        "{out}"
    );
    assert!(lines[2].starts_with("lr 0.1: converged after "), "{out}");
    assert!(
        lines[3].starts_with("lr 0.45: oscillating, converged after "),
        "{out}"
    );
    assert!(lines[4].starts_with("lr 0.55: diverged at step "), "{out}");
    assert!(lines[4].contains("best f = 2 at x = 1 (step 0"), "{out}");
    assert_eq!(&std::fs::read(&plot).unwrap()[..4], b"\x89PNG");
    let csv = std::fs::read_to_string(&trace).unwrap();
    assert!(
        csv.starts_with("run,step,loss,x\nlr 0.01,0,2,1\nlr 0.01,1,1.8432,0.96\n"),
        "{csv}"
    );
    // Two variables: one path per lr on the contour.
    let svg = dir.join("two.svg");
    let o = downhill(&[
        "minimize",
        "x^2 + 3*y^2",
        "--init",
        "x=1,y=1",
        "--lr",
        "0.05,0.3,0.34",
        "--plot",
        svg.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let contour = std::fs::read_to_string(dir.join("two-contour.svg")).unwrap();
    for name in ["lr 0.05", "lr 0.3", "lr 0.34"] {
        assert!(contour.contains(name), "{name} not in the contour legend");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The distinct minima lines of a multistart's output: (f, point, count).
fn minima(out: &str) -> Vec<(f64, Vec<f64>, usize)> {
    out.lines()
        .filter(|l| l.starts_with("  f = "))
        .map(|l| {
            let (f, rest) = l[6..].split_once(" at ").unwrap();
            let (pt, count) = rest.split_once(" (").unwrap();
            let xs = pt
                .split(", ")
                .map(|kv| kv.split(" = ").nth(1).unwrap().parse().unwrap())
                .collect();
            (
                f.parse().unwrap(),
                xs,
                count.split(' ').next().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn restarts_find_the_four_minima_of_himmelblau() {
    let dir = scratch("restarts");
    let plot = dir.join("h.png");
    let args = [
        "minimize",
        "(x^2 + y - 11)^2 + (x + y^2 - 7)^2",
        "--restarts",
        "24",
        "--bounds",
        "x=-5:5,y=-5:5",
        "--optimizer",
        "Adam",
        "--lr",
        "0.1",
        "--steps",
        "1500",
        "--tol",
        "1e-6",
        "--seed",
        "1",
    ];
    let mut with_plot = args.to_vec();
    with_plot.extend(["--plot", plot.to_str().unwrap()]);
    let o = downhill(&with_plot);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let m = minima(&out);
    assert_eq!(m.len(), 4, "{out}");
    assert_eq!(m.iter().map(|m| m.2).sum::<usize>(), 24, "{out}");
    for (f, xs, _) in &m {
        assert!(*f < 1e-8, "{out}");
        assert!(xs.iter().all(|x| x.abs() <= 5.0), "{out}");
    }
    assert!(
        out.lines().last().unwrap().starts_with("best: f = "),
        "{out}"
    );
    assert!(std::fs::metadata(dir.join("h-contour.png")).unwrap().len() > 1000);
    // The same seed gives the same output; another seed other starts.
    assert_eq!(stdout(&downhill(&args)), out);
    let mut other = args.to_vec();
    *other.last_mut().unwrap() = "2";
    assert_ne!(minima(&stdout(&downhill(&other))), m);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn basin_hopping_leaves_a_shallow_well() {
    // x⁴/4 − x²/2 + 0.3x: from x = 1 plain descent stays in the shallow well
    // near 0.84; the global minimum is near −1.13.
    let o = downhill(&[
        "minimize",
        "x^4/4 - x^2/2 + 0.3*x",
        "--init",
        "x=1",
        "--quiet",
    ]);
    assert!(stdout(&o).contains("at x = 0.8"), "{}", stdout(&o));
    let o = downhill(&[
        "minimize",
        "x^4/4 - x^2/2 + 0.3*x",
        "--init",
        "x=1",
        "--basin-hopping",
        "20",
        "--stepsize",
        "1.5",
        "--lr",
        "0.1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let last = out.lines().last().unwrap();
    let x: f64 = last
        .split("at x = ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // f'(x) = x³ − x + 0.3 = 0 at x ≈ −1.12542 (the global minimum).
    assert!((x + 1.12542).abs() < 1e-3, "{out}");
    assert!(out.contains("accepted "), "{out}");
}

#[test]
fn gradient_noise_is_seeded() {
    let run = |seed: &str| {
        stdout(&downhill(&[
            "minimize",
            "(x^2 - 1)^2",
            "--init",
            "x=0.01",
            "--noise",
            "0.5",
            "--seed",
            seed,
            "--lr",
            "0.05",
            "--quiet",
        ]))
    };
    assert_eq!(run("3"), run("3"));
    assert_ne!(run("3"), run("4"));
    // The noise is annealed: the run still settles in one of the wells at ±1.
    let noisy = run("3");
    let x: f64 = noisy
        .split("at x = ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!((x.abs() - 1.0).abs() < 0.1, "{noisy}");
}

#[test]
fn escape_flags_are_checked() {
    bad_input(&["x^2", "--restarts", "5"], "--restarts: needs --bounds");
    bad_input(
        &["x^2", "--restarts", "0", "--bounds", "x=0:1"],
        "--restarts: must be at least 1",
    );
    bad_input(
        &["x^2", "--bounds", "x=1:0", "--restarts", "2"],
        "--bounds: 'x=1:0': LO and HI must be finite numbers with LO < HI",
    );
    bad_input(
        &["x^2", "--bounds", "x=0:1"],
        "--bounds: is for --restarts N",
    );
    bad_input(
        &[
            "x^2",
            "--restarts",
            "2",
            "--basin-hopping",
            "2",
            "--bounds",
            "x=0:1",
        ],
        "choose one of",
    );
    bad_input(
        &["x^2", "--lr", "auto"],
        "--lr: auto is for `downhill train`",
    );
    bad_input(&["x^2", "--lr", "0.1,abc"], "'abc' is not a number");
    bad_input(
        &["x^2", "--noise", "-1"],
        "--noise: must be a finite number ≥ 0",
    );
    bad_input(
        &["x^2", "--basin-hopping", "3", "--stepsize", "nan"],
        "--stepsize",
    );
    bad_input(
        &["x^2", "--max-evals", "0"],
        "--max-evals: must be at least 1",
    );
}
