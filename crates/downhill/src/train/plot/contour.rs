//! Drawing [`contour_trails`](super::contour_trails): the heat map,
//! iso-lines, the trails (clipped to the axes) with their starts and ends,
//! and the color bar.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{fmt_num, grid, DrawResult, Trail, PALETTE};

/// Width of the color bar's column, labels included.
const BAR_WIDTH: u32 = 150;

/// The part of segment `a → b` inside the box `[x0, x1] × [y0, y1]`
/// (Liang–Barsky), if any.
pub(super) fn clip_segment(
    (a, b): ((f64, f64), (f64, f64)),
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x1 - a.0),
        (-dy, a.1 - y0),
        (dy, y1 - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    (t0 <= t1 && t0.is_finite() && t1.is_finite()).then_some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

/// A tick label, with float noise around zero (`-2.22e-16` on an axis of
/// span 1) shown as 0.
fn tick(span: f64) -> impl Fn(&f64) -> String {
    move |v: &f64| {
        if v.abs() <= 1e-9 * span {
            "0".into()
        } else {
            fmt_num(v)
        }
    }
}

/// Draws the field `g` with `trails` on top into `root`.
pub(super) fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    g: &grid::Grid,
    (xn, yn): (&str, &str),
    trails: &[Trail],
) -> DrawResult<DB::ErrorType> {
    root.fill(&WHITE)?;
    let root = if title.is_empty() {
        root
    } else {
        root.titled(title, ("sans-serif", 24))?
    };
    let (main, bar) = root.split_horizontally(root.dim_in_pixel().0.saturating_sub(BAR_WIDTH));
    let (x0, x1) = (g.xs[0], g.xs[g.n]);
    let (y0, y1) = (g.ys[0], g.ys[g.n]);
    let mut ctx = ChartBuilder::on(&main)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(76)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let (lo, hi) = g.range().unwrap_or((0.0, 1.0));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let color = |s: f64| {
        let (r, gr, b) = grid::viridis((s - lo) / span);
        RGBColor(r, gr, b)
    };
    let cells = (0..g.n).flat_map(|j| (0..g.n).map(move |i| (i, j)));
    ctx.draw_series(cells.filter_map(|(i, j)| {
        let s = g.cell(i, j)?;
        Some(Rectangle::new(
            [(g.xs[i], g.ys[j]), (g.xs[i + 1], g.ys[j + 1])],
            color(s).filled(),
        ))
    }))?;
    if hi > lo {
        for k in 1..=9 {
            let segs = g.iso_segments(lo + span * k as f64 / 10.0);
            let style = WHITE.mix(0.45).stroke_width(1);
            ctx.draw_series(
                segs.into_iter()
                    .map(|s| PathElement::new(s.to_vec(), style)),
            )?;
        }
    }
    ctx.configure_mesh()
        .disable_mesh()
        .x_desc(xn)
        .y_desc(yn)
        .x_label_formatter(&tick(x1 - x0))
        .y_label_formatter(&tick(y1 - y0))
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    let single = trails.len() == 1;
    let legend = trails.len() <= 10;
    let mut labelled = false;
    for (k, trail) in trails.iter().enumerate() {
        let pts: Vec<(f64, f64)> = trail
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .collect();
        let (Some(&first), Some(&last)) = (pts.first(), pts.last()) else {
            continue;
        };
        let color = if single {
            RGBColor(230, 30, 30)
        } else {
            PALETTE[k % PALETTE.len()]
        };
        let line = color.stroke_width(2);
        // One element per segment: a polyline's miter joins spike far past
        // the axes where a path turns back on itself.
        let segments: Vec<_> = pts
            .windows(2)
            .filter_map(|w| clip_segment((w[0], w[1]), (x0, x1), (y0, y1)))
            .map(|(a, b)| PathElement::new(vec![a, b], line))
            .collect();
        let drawn = ctx.draw_series(segments)?;
        if legend {
            drawn
                .label(trail.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], line));
            labelled = true;
        }
        let inside = |(x, y): (f64, f64)| (x0..=x1).contains(&x) && (y0..=y1).contains(&y);
        if inside(first) {
            ctx.draw_series([Circle::new(first, 5, WHITE.filled())])?;
            ctx.draw_series([Circle::new(first, 5, BLACK.stroke_width(2))])?;
        }
        if inside(last) {
            ctx.draw_series([Cross::new(last, 6, color.stroke_width(3))])?;
        }
    }
    let ends: Vec<(f64, f64)> = trails
        .iter()
        .filter_map(|t| {
            t.points
                .iter()
                .rev()
                .find(|(x, y)| x.is_finite() && y.is_finite())
        })
        .copied()
        .collect();
    if !ends.is_empty() {
        let mark = if single { RGBColor(230, 30, 30) } else { BLACK };
        ctx.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("start")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, WHITE.filled()));
        let end = if single {
            format!("end ({}, {})", fmt_num(&ends[0].0), fmt_num(&ends[0].1))
        } else {
            "end".into()
        };
        ctx.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(end)
            .legend(move |(x, y)| Cross::new((x + 10, y), 5, mark.stroke_width(3)));
        labelled = true;
    }
    if labelled {
        ctx.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 15))
            .background_style(RGBColor(200, 200, 200).mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
    }
    // The color bar: the scaled value on a linear axis, labelled with f.
    let mut bar = ChartBuilder::on(&bar)
        .margin_top(12)
        .margin_bottom(60)
        .margin_right(8)
        .margin_left(8)
        .y_label_area_size(100)
        .caption("f", ("sans-serif", 17))
        .build_cartesian_2d(0.0..1.0, lo..lo + span)?;
    let scale = g.scale;
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(8)
        .y_label_formatter(&|s: &f64| fmt_num(&scale.invert(*s)))
        .label_style(("sans-serif", 13))
        .draw()?;
    let steps = 100;
    bar.draw_series((0..steps).map(|k| {
        let (a, b) = (
            lo + span * k as f64 / steps as f64,
            lo + span * (k + 1) as f64 / steps as f64,
        );
        Rectangle::new([(0.0, a), (1.0, b)], color((a + b) / 2.0).filled())
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::clip_segment;

    #[test]
    fn segments_are_clipped_to_the_box() {
        let b = ((0.0, 1.0), (0.0, 1.0));
        let inside = ((0.2, 0.2), (0.8, 0.5));
        assert_eq!(clip_segment(inside, b.0, b.1), Some(inside));
        let (a, c) = clip_segment(((-1.0, 0.5), (2.0, 0.5)), b.0, b.1).unwrap();
        assert_eq!((a, c), ((0.0, 0.5), (1.0, 0.5)));
        assert_eq!(clip_segment(((2.0, 2.0), (3.0, 5.0)), b.0, b.1), None);
        let (a, c) = clip_segment(((0.5, 0.5), (0.5, 1e300)), b.0, b.1).unwrap();
        assert_eq!((a, c), ((0.5, 0.5), (0.5, 1.0)));
    }
}
