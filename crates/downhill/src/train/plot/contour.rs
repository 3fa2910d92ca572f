//! Drawing [`contour_path`](super::contour_path): the heat map, iso-lines,
//! the trail with its start and end, and the color bar.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{fmt_num, grid, DrawResult};

/// Draws the field `g` with `trail` on top into `root`.
pub(super) fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    g: &grid::Grid,
    (xn, yn): (&str, &str),
    trail: &[(f64, f64)],
) -> DrawResult<DB::ErrorType> {
    root.fill(&WHITE)?;
    let root = if title.is_empty() {
        root
    } else {
        root.titled(title, ("sans-serif", 24))?
    };
    let (main, bar) = root.split_horizontally(root.dim_in_pixel().0.saturating_sub(110));
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
        .x_label_formatter(&fmt_num)
        .y_label_formatter(&fmt_num)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()?;
    let pts: Vec<(f64, f64)> = trail
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if let (Some(&first), Some(&last)) = (pts.first(), pts.last()) {
        let red = RGBColor(230, 30, 30);
        ctx.draw_series(LineSeries::new(pts.iter().copied(), red.stroke_width(2)))?
            .label("path")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
        ctx.draw_series([Circle::new(first, 6, WHITE.filled())])?
            .label("start")
            .legend(|(x, y)| Circle::new((x + 10, y), 5, WHITE.filled()));
        ctx.draw_series([Circle::new(first, 6, BLACK.stroke_width(2))])?;
        ctx.draw_series([Cross::new(last, 7, red.stroke_width(3))])?
            .label(format!("end ({}, {})", fmt_num(&last.0), fmt_num(&last.1)))
            .legend(move |(x, y)| Cross::new((x + 10, y), 5, red.stroke_width(3)));
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
        .y_label_area_size(70)
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
