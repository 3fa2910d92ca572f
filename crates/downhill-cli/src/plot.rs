//! `downhill minimize --plot FILE.png|FILE.svg`: f per step in FILE (one
//! line per run) and, for two variables, every path over the contours of f
//! in `FILE-contour.png` (or `.svg`) — both drawn by `downhill::train::plot`,
//! written atomically. The contour grid is evaluated in one pass of the
//! expression's tensor evaluator under `no_grad`.
use std::path::{Path, PathBuf};

use downhill::train::plot::{bounding_box, contour_trails, line_chart, Chart, Series, Trail};
use downhill_cli::expr::Expr;

use crate::error::{CliError, Result};

/// One path to draw: its legend name, the variables after each step (the
/// start first) and f there, and whether it diverged (its far points do
/// not set the contour's box).
pub struct Path2<'a> {
    pub name: String,
    pub points: &'a [Vec<f64>],
    pub losses: &'a [f64],
    pub diverged: bool,
}

/// What to draw: the expression, its variables, the runs, and a box the
/// contour must show (the `--bounds` of a multistart).
pub struct Run<'a> {
    /// The expression as given.
    pub source: &'a str,
    /// The parsed expression (for the contours).
    pub expr: &'a Expr,
    /// Variable names.
    pub names: &'a [String],
    /// The runs.
    pub paths: Vec<Path2<'a>>,
    /// A box the contour must cover, if any.
    pub frame: Option<((f64, f64), (f64, f64))>,
}

/// The lowercase extension of `path`.
pub fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

/// `FILE-contour.EXT` beside `FILE.EXT`.
pub fn contour_file(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!("{stem}-contour.{ext}"))
}

/// The contour's box: around the points of the runs that did not diverge
/// (and `frame`); when all diverged, around their first few points. A
/// diverging path is then clipped at the axes.
fn contour_box(run: &Run) -> ((f64, f64), (f64, f64)) {
    let pts = |take: usize, all: bool| -> Vec<(f64, f64)> {
        run.paths
            .iter()
            .filter(|p| all || !p.diverged)
            .flat_map(|p| p.points.iter().take(take).map(|x| (x[0], x[1])))
            .collect()
    };
    let mut kept = pts(usize::MAX, false);
    if kept.is_empty() {
        kept = pts(6, true);
    }
    if let Some(((x0, x1), (y0, y1))) = run.frame {
        kept.extend([(x0, y0), (x1, y1)]);
    }
    bounding_box(&kept, if run.frame.is_some() { 0.05 } else { 0.25 })
}

/// Draws `run` to `path` (PNG or SVG by extension), and the contours beside
/// it for two variables.
///
/// **Errors** naming `--plot` on an unknown extension or a failed write.
pub fn draw(path: &Path, run: &Run) -> Result<()> {
    let fail = |e: downhill::Error| CliError::flag("--plot", e.to_string());
    let finite = || {
        run.paths
            .iter()
            .flat_map(|p| p.losses.iter().copied())
            .filter(|v| v.is_finite())
    };
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let title = format!("minimize {}", run.source);
    let chart = Chart {
        title: &title,
        x_label: "step",
        y_label: "f",
        log_y: lo > 0.0 && hi / lo > 100.0,
        ..Chart::default()
    };
    let series: Vec<Series> = run
        .paths
        .iter()
        .map(|p| {
            Series::new(
                p.name.clone(),
                p.losses
                    .iter()
                    .enumerate()
                    .map(|(k, &f)| (k as f64, f))
                    .collect(),
            )
        })
        .collect();
    line_chart(path, &chart, &series).map_err(fail)?;
    if run.names.len() == 2 {
        let trails: Vec<Trail> = run
            .paths
            .iter()
            .map(|p| Trail {
                name: p.name.clone(),
                points: p.points.iter().map(|x| (x[0], x[1])).collect(),
            })
            .collect();
        let (xr, yr) = contour_box(run);
        let field = |xs: &[f64], ys: &[f64]| run.expr.values(&[xs, ys]);
        contour_trails(
            &contour_file(path),
            &title,
            &field,
            xr,
            yr,
            (&run.names[0], &run.names[1]),
            &trails,
        )
        .map_err(fail)?;
    }
    Ok(())
}
