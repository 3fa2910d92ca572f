//! `downhill minimize --plot FILE.png|FILE.svg`: f per step and, for two
//! variables, a second panel beside it with a banded heat map (filled
//! contours) of f over a box around the path, and the path on it.
//!
//! Text is drawn by plotters' `ab_glyph` backend from the embedded DejaVu
//! Sans (`assets/`), so no system font library is needed.
use crate::error::{CliError, Result};
use downhill_cli::expr::Expr;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid; a failure would only lose the labels.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// What to draw: the expression, its variables and the path (`points[k]`
/// after k steps, `losses[k]` = f there).
pub struct Run<'a> {
    /// The expression as given.
    pub source: &'a str,
    /// The parsed expression (for the heat map).
    pub expr: &'a Expr,
    /// Variable names.
    pub names: &'a [String],
    /// The variables after each step, the start first.
    pub points: &'a [Vec<f64>],
    /// f at each point.
    pub losses: &'a [f64],
}

/// Draws `run` to `path` (PNG or SVG by extension).
///
/// **Errors** naming `--plot` on an unknown extension or a failed write.
pub fn draw(path: &Path, run: &Run) -> Result<()> {
    register_font();
    let two = run.names.len() == 2;
    let size = if two { (1400, 600) } else { (800, 500) };
    let fail = |e: String| CliError::flag("--plot", format!("{}: {e}", path.display()));
    match extension(path).as_deref() {
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            draw_on(&root, run).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            draw_on(&root, run).map_err(fail)?;
            root.present().map_err(|e| fail(e.to_string()))
        }
        _ => Err(fail("expected a .png or .svg file".into())),
    }
}

/// The lowercase extension of `path`.
pub fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    run: &Run,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    if run.names.len() == 2 {
        let panels = root.split_evenly((1, 2));
        loss_panel(&panels[0], run).map_err(|e| e.to_string())?;
        contour_panel(&panels[1], run).map_err(|e| e.to_string())?;
    } else {
        loss_panel(root, run).map_err(|e| e.to_string())?;
    }
    Ok(())
}

type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// f per step; a log axis when every f is positive and they span more than 100×.
fn loss_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, run: &Run) -> DrawResult<DB> {
    let pts: Vec<(f64, f64)> = run
        .losses
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_finite())
        .map(|(k, &f)| (k as f64, f))
        .collect();
    let steps = (run.losses.len().saturating_sub(1)).max(1) as f64;
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let title = format!("f = {}", run.source);
    let log = lo > 0.0 && hi > 100.0 * lo;
    let mut chart = ChartBuilder::on(area);
    chart
        .caption(shorten(&title, 70), ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70);
    let style = ShapeStyle::from(&BLUE).stroke_width(2);
    if log {
        let mut c = chart.build_cartesian_2d(0.0..steps, (lo / 1.5..hi * 1.5).log_scale())?;
        c.configure_mesh()
            .x_desc("step")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_desc("f (log scale)")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .draw()?;
        c.draw_series(LineSeries::new(pts, style))?;
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-12 * hi.abs().max(1.0));
        let mut c = chart.build_cartesian_2d(0.0..steps, lo - pad..hi + pad)?;
        c.configure_mesh()
            .x_desc("step")
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_desc("f")
            .draw()?;
        c.draw_series(LineSeries::new(pts, style))?;
    }
    Ok(())
}

/// Banded heat map of f over a box around the path, and the path.
fn contour_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, run: &Run) -> DrawResult<DB> {
    let path: Vec<(f64, f64)> = run
        .points
        .iter()
        .map(|p| (p[0], p[1]))
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let (xr, yr) = (
        bounds(path.iter().map(|p| p.0)),
        bounds(path.iter().map(|p| p.1)),
    );
    let mut chart = ChartBuilder::on(area)
        .caption("f over the path (darker = lower)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(run.names[0].as_str())
        .y_desc(run.names[1].as_str())
        .draw()?;
    // f on an n×n grid, banded on a log-like scale of f − min.
    let n = 120;
    let cell = |i: usize, span: (f64, f64)| span.0 + (span.1 - span.0) * i as f64 / n as f64;
    let mut grid = vec![f64::NAN; n * n];
    for j in 0..n {
        for i in 0..n {
            let x = (cell(i, xr) + cell(i + 1, xr)) / 2.0;
            let y = (cell(j, yr) + cell(j + 1, yr)) / 2.0;
            grid[j * n + i] = run.expr.eval_f64(&[x, y]);
        }
    }
    let (lo, hi) = bounds_raw(grid.iter().copied());
    let scale = |f: f64| (f - lo).max(0.0).ln_1p() / (hi - lo).max(1e-300).ln_1p();
    let bands = 16.0;
    chart.draw_series((0..n * n).map(|k| {
        let (i, j) = (k % n, k / n);
        let f = grid[k];
        let color = if f.is_finite() && lo.is_finite() {
            let t = (scale(f) * bands).floor().min(bands - 1.0) / (bands - 1.0);
            colormap(t)
        } else {
            RGBColor(200, 200, 200)
        };
        Rectangle::new(
            [
                (cell(i, xr), cell(j, yr)),
                (cell(i + 1, xr), cell(j + 1, yr)),
            ],
            color.filled(),
        )
    }))?;
    let red = ShapeStyle::from(&RED).stroke_width(2);
    chart.draw_series(LineSeries::new(path.iter().copied(), red))?;
    if let (Some(&first), Some(&last)) = (path.first(), path.last()) {
        chart.draw_series([Circle::new(first, 5, red.filled())])?;
        chart.draw_series([Cross::new(
            last,
            7,
            ShapeStyle::from(&WHITE).stroke_width(3),
        )])?;
    }
    Ok(())
}

/// min..max of finite values, padded by 20% (a unit box around a single point).
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = bounds_raw(values);
    if !lo.is_finite() {
        return (-1.0, 1.0);
    }
    let span = (hi - lo).max(0.5 * lo.abs().max(hi.abs()).max(1.0));
    let mid = (lo + hi) / 2.0;
    (mid - 0.6 * span, mid + 0.6 * span)
}

fn bounds_raw(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        })
}

/// Dark blue (low) through teal and green to yellow (high), like viridis.
fn colormap(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let u = t - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * u).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// `s` cut to `max` characters with an ellipsis.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).chain(['…']).collect()
    }
}
