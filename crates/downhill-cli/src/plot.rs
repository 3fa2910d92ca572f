//! `downhill minimize --plot FILE.png|FILE.svg`: f per step in FILE and, for
//! two variables, the contours of f around the path with the path on them in
//! `FILE-contour.png` (or `.svg`) — both drawn by `downhill::train::plot`,
//! written atomically.
use std::path::{Path, PathBuf};

use downhill::train::plot::{bounding_box, contour_path, line_chart, Chart, Series};
use downhill_cli::expr::Expr;

use crate::error::{CliError, Result};

/// What to draw: the expression, its variables and the path (`points[k]`
/// after k steps, `losses[k]` = f there).
pub struct Run<'a> {
    /// The expression as given.
    pub source: &'a str,
    /// The parsed expression (for the contours).
    pub expr: &'a Expr,
    /// Variable names.
    pub names: &'a [String],
    /// The variables after each step, the start first.
    pub points: &'a [Vec<f64>],
    /// f at each point.
    pub losses: &'a [f64],
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

/// Draws `run` to `path` (PNG or SVG by extension), and the contours beside
/// it for two variables.
///
/// **Errors** naming `--plot` on an unknown extension or a failed write.
pub fn draw(path: &Path, run: &Run) -> Result<()> {
    let fail = |e: downhill::Error| CliError::flag("--plot", e.to_string());
    let finite: Vec<f64> = run
        .losses
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let title = format!("minimize {}", run.source);
    let chart = Chart {
        title: &title,
        x_label: "step",
        y_label: "f",
        log_y: lo > 0.0 && hi / lo > 100.0,
        ..Chart::default()
    };
    let series = Series {
        name: "f".into(),
        points: run
            .losses
            .iter()
            .enumerate()
            .map(|(k, &f)| (k as f64, f))
            .collect(),
    };
    line_chart(path, &chart, &[series]).map_err(fail)?;
    if run.names.len() == 2 {
        let trail: Vec<(f64, f64)> = run.points.iter().map(|p| (p[0], p[1])).collect();
        let (xr, yr) = bounding_box(&trail, 0.25);
        let f = |x: f64, y: f64| run.expr.eval_f64(&[x, y]);
        contour_path(
            &contour_file(path),
            &title,
            &f,
            xr,
            yr,
            (&run.names[0], &run.names[1]),
            &trail,
        )
        .map_err(fail)?;
    }
    Ok(())
}
