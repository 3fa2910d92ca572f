//! The scalar field behind [`contour_path`](super::contour_path): sampling
//! f on a grid, the log-ish value scale, the viridis colormap and
//! marching-squares iso-lines.

/// f sampled at the `(n + 1) × (n + 1)` vertices of an `n × n` grid of cells.
pub(super) struct Grid {
    /// Cells per side.
    pub n: usize,
    /// Vertex x coordinates (`n + 1`).
    pub xs: Vec<f64>,
    /// Vertex y coordinates (`n + 1`).
    pub ys: Vec<f64>,
    /// Scaled values, row-major by y: `v[j * (n + 1) + i]` is at `(xs[i], ys[j])`;
    /// NaN where f was not finite.
    pub v: Vec<f64>,
    /// How scaled values map back to f.
    pub scale: Scale,
}

/// The map from f to the colored value: `s = f` or `s = ln(f - min + eps)`.
#[derive(Clone, Copy, Debug)]
pub(super) enum Scale {
    Linear,
    Log { min: f64, eps: f64 },
}

impl Scale {
    fn apply(self, f: f64) -> f64 {
        match self {
            Scale::Linear => f,
            Scale::Log { min, eps } => (f - min + eps).ln(),
        }
    }

    /// f at scaled value `s`.
    pub fn invert(self, s: f64) -> f64 {
        match self {
            Scale::Linear => s,
            Scale::Log { min, eps } => s.exp() - eps + min,
        }
    }
}

impl Grid {
    /// Samples `f` over `[x0, x1] × [y0, y1]`; the scale is logarithmic when
    /// the values are skewed over orders of magnitude (max above 30× the
    /// first quartile, measured from the minimum).
    /// `field(xs, ys)` gives f at every `(xs[k], ys[k])` in one call (a
    /// wrong-length answer counts as not finite everywhere).
    pub fn sample(field: &super::Field, x: (f64, f64), y: (f64, f64), n: usize) -> Grid {
        let axis = |(a, b): (f64, f64)| -> Vec<f64> {
            (0..=n).map(|i| a + (b - a) * i as f64 / n as f64).collect()
        };
        let (xs, ys) = (axis(x), axis(y));
        let (mut px, mut py) = (vec![], vec![]);
        for &yj in &ys {
            for &xi in &xs {
                px.push(xi);
                py.push(yj);
            }
        }
        let mut v = field(&px, &py);
        if v.len() != px.len() {
            v = vec![f64::NAN; px.len()];
        }
        for z in &mut v {
            if !z.is_finite() {
                *z = f64::NAN;
            }
        }
        let mut finite: Vec<f64> = v.iter().copied().filter(|z| z.is_finite()).collect();
        finite.sort_by(f64::total_cmp);
        let scale = match (finite.first(), finite.last()) {
            (Some(&lo), Some(&hi)) if hi > lo && (hi - lo).is_finite() => {
                let q1 = finite[finite.len() / 4] - lo;
                if hi - lo > 30.0 * q1 {
                    Scale::Log {
                        min: lo,
                        eps: ((hi - lo) * 1e-4).max(f64::MIN_POSITIVE),
                    }
                } else {
                    Scale::Linear
                }
            }
            _ => Scale::Linear,
        };
        for z in &mut v {
            *z = scale.apply(*z);
        }
        Grid {
            n,
            xs,
            ys,
            v,
            scale,
        }
    }

    fn at(&self, i: usize, j: usize) -> f64 {
        self.v[j * (self.n + 1) + i]
    }

    /// The smallest and largest finite scaled value, if any.
    pub fn range(&self) -> Option<(f64, f64)> {
        let mut it = self.v.iter().copied().filter(|z| z.is_finite());
        let first = it.next()?;
        Some(it.fold((first, first), |(a, b), z| (a.min(z), b.max(z))))
    }

    /// The mean of the finite corner values of cell `(i, j)`, if any.
    pub fn cell(&self, i: usize, j: usize) -> Option<f64> {
        let c = [
            self.at(i, j),
            self.at(i + 1, j),
            self.at(i + 1, j + 1),
            self.at(i, j + 1),
        ];
        let finite: Vec<f64> = c.into_iter().filter(|z| z.is_finite()).collect();
        (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
    }

    /// Iso-line segments of scaled value `level` (marching squares; saddles
    /// resolved by the cell mean; cells with a non-finite corner skipped).
    pub fn iso_segments(&self, level: f64) -> Vec<[(f64, f64); 2]> {
        let mut out = vec![];
        for j in 0..self.n {
            for i in 0..self.n {
                // Corners counter-clockwise from the bottom left.
                let p = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
                let z = p.map(|(a, b)| self.at(a, b));
                if z.iter().any(|z| !z.is_finite()) {
                    continue;
                }
                // Crossings on edges bottom, right, top, left (edge k joins corner k and k+1).
                let mut cross = [None; 4];
                for k in 0..4 {
                    let (za, zb) = (z[k], z[(k + 1) % 4]);
                    if (za < level) != (zb < level) {
                        let t = (level - za) / (zb - za);
                        let (pa, pb) = (p[k], p[(k + 1) % 4]);
                        let (xa, ya) = (self.xs[pa.0], self.ys[pa.1]);
                        let (xb, yb) = (self.xs[pb.0], self.ys[pb.1]);
                        cross[k] = Some((xa + t * (xb - xa), ya + t * (yb - ya)));
                    }
                }
                let c: Vec<(usize, (f64, f64))> = cross
                    .iter()
                    .enumerate()
                    .filter_map(|(k, c)| c.map(|c| (k, c)))
                    .collect();
                match c.len() {
                    2 => out.push([c[0].1, c[1].1]),
                    4 => {
                        let mean = z.iter().sum::<f64>() / 4.0;
                        let e = cross.map(Option::unwrap);
                        if (mean < level) == (z[0] < level) {
                            // The bottom-left and top-right corners connect through the centre.
                            out.push([e[0], e[1]]);
                            out.push([e[2], e[3]]);
                        } else {
                            out.push([e[3], e[0]]);
                            out.push([e[1], e[2]]);
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

/// Viridis, 9 stops from matplotlib's table.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

/// The viridis color at `t` in `[0, 1]` (clamped; NaN gives the low end).
pub(super) fn viridis(t: f64) -> (u8, u8, u8) {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let k = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let u = x - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |p: u8, q: u8| (p as f64 + u * (q as f64 - p as f64)).round() as u8;
    (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples a function of one point.
    fn sample_fn(f: impl Fn(f64, f64) -> f64, x: (f64, f64), y: (f64, f64), n: usize) -> Grid {
        let field = |xs: &[f64], ys: &[f64]| xs.iter().zip(ys).map(|(&x, &y)| f(x, y)).collect();
        Grid::sample(&field, x, y, n)
    }

    #[test]
    fn viridis_ends_and_clamps() {
        assert_eq!(viridis(0.0), VIRIDIS[0]);
        assert_eq!(viridis(1.0), VIRIDIS[8]);
        assert_eq!(viridis(-3.0), VIRIDIS[0]);
        assert_eq!(viridis(7.0), VIRIDIS[8]);
        assert_eq!(viridis(f64::NAN), VIRIDIS[0]);
        assert_eq!(viridis(0.5), VIRIDIS[4]);
    }

    #[test]
    fn quadratic_is_linear_scale_and_rosenbrock_is_log() {
        let g = sample_fn(|x, y| x * x + y * y, (-1.0, 1.0), (-1.0, 1.0), 20);
        assert!(matches!(g.scale, Scale::Linear));
        let rosen = |x: f64, y: f64| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
        let g = sample_fn(rosen, (-2.0, 2.0), (-1.0, 3.0), 40);
        assert!(matches!(g.scale, Scale::Log { .. }));
        let (lo, hi) = g.range().unwrap();
        assert!(lo < hi);
        let f = g.scale.invert(hi);
        // The maximum, at (-2, -1): 9 + 100 · 25.
        assert!((f - 2509.0).abs() < 1e-6 * 2509.0, "{f}");
    }

    #[test]
    fn circle_iso_line_lies_on_the_circle() {
        let g = sample_fn(|x, y| x * x + y * y, (-1.0, 1.0), (-1.0, 1.0), 40);
        let segs = g.iso_segments(0.25);
        assert!(segs.len() > 20);
        for s in segs {
            for (x, y) in s {
                let r = (x * x + y * y).sqrt();
                assert!((r - 0.5).abs() < 0.01, "{r}");
            }
        }
    }

    #[test]
    fn non_finite_cells_are_skipped() {
        let g = sample_fn(
            |x, _| if x < 0.0 { f64::NAN } else { x },
            (-1.0, 1.0),
            (0.0, 1.0),
            10,
        );
        assert!(g.cell(0, 0).is_none());
        assert!(g.cell(9, 0).is_some());
        assert!(g.iso_segments(0.5).iter().all(|s| s[0].0 >= 0.0));
        let g = sample_fn(|_, _| f64::INFINITY, (0.0, 1.0), (0.0, 1.0), 4);
        assert!(g.range().is_none());
    }
}
