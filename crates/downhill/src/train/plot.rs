//! Training curves and contour plots as PNG or SVG, chosen by the file's
//! extension, with no system libraries: text in PNGs is drawn with an
//! embedded subset of DejaVu Sans (`assets/DejaVuSans-subset.ttf`, license
//! beside it); SVGs carry their text as `<text>` elements.
//!
//! Every function writes atomically (a temporary file in the same
//! directory, then a rename), skips non-finite points, and draws something
//! readable for empty, single-point or constant series instead of failing.

mod contour;
mod grid;

use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use plotters::coord::combinators::IntoLogRange;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Error, Result};

/// One line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// `(x, y)` points in drawing order; non-finite points (and ones beyond
    /// ±1e300, which no axis can span) are skipped.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A series from a name and points.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }

    /// A series of `ys` against 1, 2, 3, … (epochs).
    pub fn per_epoch(name: impl Into<String>, ys: &[f64]) -> Self {
        Series::new(
            name,
            ys.iter()
                .enumerate()
                .map(|(i, &y)| ((i + 1) as f64, y))
                .collect(),
        )
    }

    fn finite(&self) -> impl Iterator<Item = (f64, f64)> + Clone + '_ {
        self.points
            .iter()
            .copied()
            .filter(|&(x, y)| drawable(x) && drawable(y))
    }
}

/// Options of a line chart.
#[derive(Clone, Debug)]
pub struct Chart<'a> {
    /// Caption above the plot ("" for none).
    pub title: &'a str,
    /// Label under the x axis.
    pub x_label: &'a str,
    /// Label beside the y axis.
    pub y_label: &'a str,
    /// A logarithmic y axis; ignored (linear) if any finite y is `<= 0`.
    pub log_y: bool,
    /// A logarithmic x axis (learning rates); ignored (linear) if any
    /// finite x is `<= 0`.
    pub log_x: bool,
    /// Image width in pixels (16 to 16384).
    pub width: u32,
    /// Image height in pixels (16 to 16384).
    pub height: u32,
}

impl Default for Chart<'_> {
    fn default() -> Self {
        Chart {
            title: "",
            x_label: "",
            y_label: "",
            log_y: false,
            log_x: false,
            width: 900,
            height: 560,
        }
    }
}

/// Writes a line chart of `series` to `path` (`.png` or `.svg`): a legend
/// with the series names, a distinct color per series, and point markers on
/// series of fewer than 30 points.
///
/// ```
/// use downhill::train::plot::{line_chart, Chart, Series};
///
/// let dir = std::env::temp_dir().join(format!("downhill-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let loss = Series::per_epoch("train", &[1.0, 0.5, 0.3, 0.2]);
/// let chart = Chart { title: "loss", x_label: "epoch", log_y: true, ..Chart::default() };
/// line_chart(&dir.join("loss.svg"), &chart, &[loss])?;
/// assert!(std::fs::read_to_string(dir.join("loss.svg"))?.contains("train"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn line_chart(path: &Path, chart: &Chart, series: &[Series]) -> Result<()> {
    render(path, (chart.width, chart.height), Job::Lines(chart, series))
}

/// Writes training curves to `path` (`.png` or `.svg`): the loss per epoch
/// (e.g. train and validation series) on the left and the validation metrics
/// (e.g. accuracy) on the right, under one title. A panel with no series is
/// omitted. The loss axis is logarithmic when the losses are positive and
/// span more than two orders of magnitude.
pub fn training_curves(
    path: &Path,
    title: &str,
    loss: &[Series],
    metrics: &[Series],
) -> Result<()> {
    let panels: Vec<(&[Series], Chart)> = [
        (
            loss,
            Chart {
                y_label: "loss",
                log_y: spans_decades(loss),
                ..Chart::default()
            },
        ),
        (
            metrics,
            Chart {
                y_label: "metric",
                ..Chart::default()
            },
        ),
    ]
    .into_iter()
    .filter(|(s, _)| !s.is_empty())
    .map(|(s, c)| {
        (
            s,
            Chart {
                x_label: "epoch",
                title: c.y_label,
                ..c
            },
        )
    })
    .collect();
    let width = if panels.len() > 1 { 1400 } else { 900 };
    render(path, (width, 560), Job::Curves(title, &panels))
}

/// A scalar field evaluated at many points at once: `field(xs, ys)[k]` is
/// f at `(xs[k], ys[k])` (so a caller can evaluate a whole grid as one
/// tensor expression).
pub type Field<'a> = dyn Fn(&[f64], &[f64]) -> Vec<f64> + 'a;

/// One path drawn over the contours by [`contour_trails`].
#[derive(Clone, Debug)]
pub struct Trail {
    /// The legend entry.
    pub name: String,
    /// The points in order; non-finite ones are skipped.
    pub points: Vec<(f64, f64)>,
}

/// Writes a heat map of `f` over `[x0, x1] × [y0, y1]` with iso-lines, a
/// color bar, and `trail` drawn on top (start and end marked) to `path`
/// (`.png` or `.svg`). Colors follow viridis on `f`, or on
/// `ln(f − min + ε)` when the values span orders of magnitude; cells where
/// `f` is not finite stay blank. `var_names` label the axes. The trail is
/// clipped to the axes.
pub fn contour_path(
    path: &Path,
    title: &str,
    f: &dyn Fn(f64, f64) -> f64,
    x_range: (f64, f64),
    y_range: (f64, f64),
    var_names: (&str, &str),
    trail: &[(f64, f64)],
) -> Result<()> {
    let field = |xs: &[f64], ys: &[f64]| xs.iter().zip(ys).map(|(&x, &y)| f(x, y)).collect();
    let trails = [Trail {
        name: "path".into(),
        points: trail.to_vec(),
    }];
    contour_trails(path, title, &field, x_range, y_range, var_names, &trails)
}

/// [`contour_path`] for several paths at once (a color each, a legend
/// entry each up to ten), with f given as a [`Field`].
///
/// ```
/// use downhill::train::plot::{contour_trails, Trail};
///
/// let dir = std::env::temp_dir().join(format!("downhill-doc-trails-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let bowl = |xs: &[f64], ys: &[f64]| xs.iter().zip(ys).map(|(x, y)| x * x + y * y).collect();
/// let trails = [
///     Trail { name: "lr 0.1".into(), points: vec![(1.0, 1.0), (0.8, 0.8), (0.64, 0.64)] },
///     Trail { name: "lr 0.9".into(), points: vec![(-1.0, 1.0), (0.8, -0.8), (-0.64, 0.64)] },
/// ];
/// contour_trails(&dir.join("c.svg"), "bowl", &bowl, (-1.5, 1.5), (-1.5, 1.5), ("x", "y"), &trails)?;
/// assert!(std::fs::read_to_string(dir.join("c.svg"))?.contains("lr 0.9"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// **Errors** on an improper range, an unknown extension or a failed write.
pub fn contour_trails(
    path: &Path,
    title: &str,
    field: &Field,
    x_range: (f64, f64),
    y_range: (f64, f64),
    var_names: (&str, &str),
    trails: &[Trail],
) -> Result<()> {
    let svg = format_of(path)? == Format::Svg;
    let (x_range, y_range) = (
        proper_range(x_range, "x_range")?,
        proper_range(y_range, "y_range")?,
    );
    // SVG draws one rectangle per cell: keep the file small.
    let g = grid::Grid::sample(field, x_range, y_range, if svg { 60 } else { 120 });
    render(path, (900, 720), Job::Contour(title, &g, var_names, trails))
}

/// The box `((x0, x1), (y0, y1))` around the finite points of `trail`,
/// widened on each side by `margin` × its extent (a zero extent counts as
/// `max(|center|, 1)`), for picking [`contour_path`]'s ranges. An empty
/// trail gives `((-1, 1), (-1, 1))`.
pub fn bounding_box(trail: &[(f64, f64)], margin: f64) -> ((f64, f64), (f64, f64)) {
    let pts = || trail.iter().filter(|(x, y)| x.is_finite() && y.is_finite());
    let margin = if margin.is_finite() {
        margin.max(0.0)
    } else {
        0.0
    };
    let widen = |v: Vec<f64>| -> (f64, f64) {
        let Some((lo, hi)) = min_max(v.into_iter()) else {
            return (-1.0, 1.0);
        };
        let extent = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
        let pad = if hi > lo {
            margin * extent
        } else {
            extent * margin.max(0.5)
        };
        (lo - pad, hi + pad)
    };
    (
        widen(pts().map(|p| p.0).collect()),
        widen(pts().map(|p| p.1).collect()),
    )
}

type DrawResult<E> = std::result::Result<(), DrawingAreaErrorKind<E>>;

/// More series than this get no legend (it would cover the chart).
const MAX_LEGEND: usize = 12;

/// Ten distinguishable colors (matplotlib's "tab10").
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The embedded font (see `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is a fixed, tested asset: parsing it cannot fail at run time.
        let ok = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok();
        debug_assert!(ok, "embedded font does not parse");
    });
}

fn drawable(v: f64) -> bool {
    v.is_finite() && v.abs() <= 1e300
}

fn min_max(it: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    it.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((a, b)) => Some((v.min(a), v.max(b))),
    })
}

/// Whether positive values span more than two decades.
fn spans_decades(series: &[Series]) -> bool {
    let ys = series.iter().flat_map(|s| s.finite().map(|p| p.1));
    matches!(min_max(ys), Some((lo, hi)) if lo > 0.0 && hi / lo > 100.0)
}

/// A drawable range around `[lo, hi]`: padded by 5%, or by 10% of the value
/// (1 at zero) when all values are equal, and `[0, 1]` with no values.
fn padded(range: Option<(f64, f64)>, frac: f64) -> Range<f64> {
    let Some((lo, hi)) = range else {
        return 0.0..1.0;
    };
    // Spans below float noise count as equal values.
    let hi = if hi - lo > 1e-12 * lo.abs().max(hi.abs()) {
        hi
    } else {
        lo
    };
    let pad = if hi > lo {
        (hi - lo) * frac
    } else if lo == 0.0 {
        1.0
    } else {
        lo.abs() * 0.1
    };
    let (a, b) = (lo - pad, hi + pad);
    if a.is_finite() && b.is_finite() && b > a {
        a..b
    } else if hi > lo {
        lo..hi
    } else {
        0.0..1.0
    }
}

fn proper_range((a, b): (f64, f64), name: &str) -> Result<(f64, f64)> {
    if a.is_finite() && b.is_finite() && a < b && (b - a).is_finite() {
        Ok((a, b))
    } else {
        Err(Error::InvalidArgument {
            name: name.into(),
            message: format!("({a}, {b}) is not a finite range with start < end"),
        })
    }
}

/// Short tick labels: up to 4 significant digits, scientific when tiny or huge.
fn fmt_num(v: &f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.2e}");
        // 1.00e-4 → 1e-4
        s.replace(".00e", "e").replace("0e", "e")
    } else {
        let digits = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').into()
        } else {
            s
        }
    }
}

/// A log axis around positive `[lo, hi]` (padded by a few percent of the
/// ratio), or `None` when the values do not allow one.
fn log_range(range: Option<(f64, f64)>) -> Option<Range<f64>> {
    let (lo, hi) = range?;
    if !(lo > 0.0 && hi / lo < 1e200) {
        return None;
    }
    let f = if hi > lo * (1.0 + 1e-12) {
        (hi / lo).powf(0.05).max(1.05)
    } else {
        2.0
    };
    Some(lo / f..hi * f)
}

/// One line chart in `area`; series colors start at `color_offset`.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    series: &[Series],
    color_offset: usize,
) -> DrawResult<DB::ErrorType> {
    let xs = min_max(series.iter().flat_map(|s| s.finite().map(|p| p.0)));
    let ys = min_max(series.iter().flat_map(|s| s.finite().map(|p| p.1)));
    let lin01 = |r: &Range<f64>| {
        let r = r.clone();
        move |v: f64| (v - r.start) / (r.end - r.start)
    };
    let log01 = |r: &Range<f64>| {
        let r = r.clone();
        move |v: f64| (v / r.start).ln() / (r.end / r.start).ln()
    };
    let x_log = log_range(xs).filter(|_| chart.log_x);
    let y_log = log_range(ys).filter(|_| chart.log_y);
    let (x, y) = (padded(xs, 0.02), padded(ys, 0.05));
    let draw = |corner| (area, chart, series, color_offset, corner);
    match (x_log, y_log) {
        (None, None) => {
            let c = legend_corner(series, lin01(&x), lin01(&y));
            draw_lines(draw(c), x, y)
        }
        (Some(xl), None) => {
            let c = legend_corner(series, log01(&xl), lin01(&y));
            draw_lines(draw(c), xl.log_scale(), y)
        }
        (None, Some(yl)) => {
            let c = legend_corner(series, lin01(&x), log01(&yl));
            draw_lines(draw(c), x, yl.log_scale())
        }
        (Some(xl), Some(yl)) => {
            let c = legend_corner(series, log01(&xl), log01(&yl));
            draw_lines(draw(c), xl.log_scale(), yl.log_scale())
        }
    }
}

/// The legend corner that covers the fewest points of the lines (sampled
/// along each segment), preferring the upper right.
fn legend_corner(
    series: &[Series],
    x01: impl Fn(f64) -> f64,
    y01: impl Fn(f64) -> f64,
) -> SeriesLabelPosition {
    use SeriesLabelPosition::*;
    let mut hits = [0usize; 4];
    let corners = [
        (UpperRight, true, true),
        (UpperLeft, false, true),
        (LowerRight, true, false),
        (LowerLeft, false, false),
    ];
    for s in series {
        let pts: Vec<(f64, f64)> = s.finite().map(|(px, py)| (x01(px), y01(py))).collect();
        let segs = pts
            .windows(2)
            .map(|w| (w[0], w[1]))
            .chain(pts.first().map(|&p| (p, p)));
        for ((x0, y0), (x1, y1)) in segs {
            for k in 0..=8 {
                let t = k as f64 / 8.0;
                let (u, v) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
                for (n, &(_, right, up)) in corners.iter().enumerate() {
                    let in_x = if right { u > 0.55 } else { u < 0.45 };
                    let in_y = if up { v > 0.7 } else { v < 0.3 };
                    hits[n] += (in_x && in_y) as usize;
                }
            }
        }
    }
    let best = (0..4).min_by_key(|&n| hits[n]).unwrap_or(0);
    corners.into_iter().nth(best).map_or(UpperRight, |c| c.0)
}

/// What [`draw_lines`] draws: the area, the chart's options, the series,
/// the first color and the legend's corner.
type Lines<'a, 'b, DB> = (
    &'a DrawingArea<DB, Shift>,
    &'a Chart<'b>,
    &'a [Series],
    usize,
    SeriesLabelPosition,
);

fn draw_lines<DB: DrawingBackend, X, Y>(
    (area, chart, series, color_offset, corner): Lines<DB>,
    x: X,
    y: Y,
) -> DrawResult<DB::ErrorType>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    area.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(76);
    if !chart.title.is_empty() {
        builder.caption(chart.title, ("sans-serif", 22));
    }
    let mut ctx = builder.build_cartesian_2d(x, y)?;
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&fmt_num)
        .y_label_formatter(&fmt_num)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .light_line_style(RGBColor(0, 0, 0).mix(0.04))
        .bold_line_style(RGBColor(0, 0, 0).mix(0.12))
        .draw()?;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[(color_offset + k) % PALETTE.len()];
        let line = color.stroke_width(2);
        let drawn = ctx.draw_series(LineSeries::new(s.finite(), line))?;
        if series.len() <= MAX_LEGEND {
            drawn
                .label(s.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line));
        }
        if s.finite().count() < 30 {
            ctx.draw_series(s.finite().map(|p| Circle::new(p, 3, color.filled())))?;
        }
    }
    if !series.is_empty() && series.len() <= MAX_LEGEND {
        ctx.configure_series_labels()
            .position(corner)
            .margin(8)
            .label_font(("sans-serif", 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
    }
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Format {
    Png,
    Svg,
}

fn format_of(path: &Path) -> Result<Format> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => Err(Error::InvalidArgument {
            name: path.display().to_string(),
            message: "a plot's file name must end in .png or .svg".into(),
        }),
    }
}

/// What to draw: one generic `draw` serves both backends.
enum Job<'a> {
    Lines(&'a Chart<'a>, &'a [Series]),
    Curves(&'a str, &'a [(&'a [Series], Chart<'a>)]),
    Contour(&'a str, &'a grid::Grid, (&'a str, &'a str), &'a [Trail]),
}

impl Job<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> DrawResult<DB::ErrorType> {
        match *self {
            Job::Lines(chart, series) => panel(&root, chart, series, 0),
            Job::Curves(title, panels) => {
                root.fill(&WHITE)?;
                let area = if title.is_empty() {
                    root
                } else {
                    root.titled(title, ("sans-serif", 26))?
                };
                if panels.is_empty() {
                    return panel(&area, &Chart::default(), &[], 0);
                }
                let mut offset = 0;
                for (a, (s, c)) in area.split_evenly((1, panels.len())).iter().zip(panels) {
                    panel(a, c, s, offset)?;
                    offset += s.len();
                }
                Ok(())
            }
            Job::Contour(title, g, names, trails) => contour::draw(root, title, g, names, trails),
        }
    }
}

/// Renders in memory, then writes `path` atomically.
fn render(path: &Path, (w, h): (u32, u32), job: Job) -> Result<()> {
    register_font();
    let format = format_of(path)?;
    for (name, v) in [("width", w), ("height", h)] {
        if !(16..=16384).contains(&v) {
            let message = format!("{v} pixels is outside 16..=16384");
            return Err(Error::InvalidArgument {
                name: name.into(),
                message,
            });
        }
    }
    let failed = |e: &dyn std::fmt::Display| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("rendering the plot failed: {e}")),
    };
    let bytes = match format {
        Format::Png => {
            let mut rgb = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                job.draw(root.clone()).map_err(|e| failed(&e))?;
                root.present().map_err(|e| failed(&e))?;
            }
            encode_png(&rgb, w, h).map_err(|e| failed(&e))?
        }
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                job.draw(root.clone()).map_err(|e| failed(&e))?;
                root.present().map_err(|e| failed(&e))?;
            }
            svg.into_bytes()
        }
    };
    crate::file::write_atomic(path, &bytes)
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> std::result::Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Best);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_parses() {
        assert!(plotters::style::register_font("downhill-test", FontStyle::Normal, FONT).is_ok());
    }

    #[test]
    fn format_by_extension() {
        assert_eq!(format_of(Path::new("a/b.png")).unwrap(), Format::Png);
        assert_eq!(format_of(Path::new("b.SVG")).unwrap(), Format::Svg);
        for bad in ["b.jpg", "b", "png", "b.png.tmp"] {
            assert!(matches!(
                format_of(Path::new(bad)),
                Err(Error::InvalidArgument { .. })
            ));
        }
    }

    #[test]
    fn tick_labels_are_short() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (0.5, "0.5"),
            (2.25, "2.25"),
            (1234.5678, "1235"),
            (0.012345, "0.01235"),
            (1e-4, "1e-4"),
            (-2.5e7, "-2.5e7"),
            (0.30000000000000004, "0.3"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_num(&v), want, "{v}");
        }
    }

    #[test]
    fn padded_ranges_are_proper() {
        assert_eq!(padded(None, 0.05), 0.0..1.0);
        assert_eq!(padded(Some((0.0, 0.0)), 0.05), -1.0..1.0);
        let r = padded(Some((2.0, 2.0)), 0.05);
        assert!(r.start < 2.0 && r.end > 2.0);
        let r = padded(Some((0.0, 10.0)), 0.05);
        assert!((r.start + 0.5).abs() < 1e-12 && (r.end - 10.5).abs() < 1e-12);
        let r = padded(Some((-1e300, 1e300)), 0.05);
        assert!(r.start.is_finite() && r.end.is_finite() && r.start < r.end);
    }

    #[test]
    fn legend_avoids_the_data() {
        let rising = [Series::per_epoch("acc", &[0.1, 0.5, 0.8, 0.9, 0.95])];
        let falling = [Series::per_epoch("loss", &[2.0, 1.0, 0.5, 0.3, 0.2])];
        let corner = |s: &[Series]| {
            let lim = |k| {
                min_max(
                    s.iter()
                        .flat_map(|s| s.finite().map(move |p| if k { p.0 } else { p.1 })),
                )
            };
            let (x, y) = (padded(lim(true), 0.02), padded(lim(false), 0.05));
            legend_corner(
                s,
                |v| (v - x.start) / (x.end - x.start),
                |v| (v - y.start) / (y.end - y.start),
            )
        };
        assert!(matches!(corner(&falling), SeriesLabelPosition::UpperRight));
        assert!(!matches!(corner(&rising), SeriesLabelPosition::UpperRight));
    }

    #[test]
    fn spans_decades_needs_positive_values() {
        assert!(spans_decades(&[Series::per_epoch("l", &[10.0, 0.01])]));
        assert!(!spans_decades(&[Series::per_epoch("l", &[10.0, 1.0])]));
        assert!(!spans_decades(&[Series::per_epoch("l", &[10.0, 0.0])]));
        assert!(!spans_decades(&[]));
    }
}
