//! 2-D pooling: max (gradient to the arg-max), average (PyTorch's divisor
//! rules) and adaptive average. Parallel over image planes.

use rayon::prelude::*;

use crate::autograd::{Backward, GradSink};
use crate::tensor::storage::{dispatch, HasStorage};
use crate::tensor::{Element, Tensor};

/// Window settings of max/average pooling (stride defaults to the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dConfig {
    /// (height, width) of the window.
    pub kernel: (usize, usize),
    /// Step; PyTorch's default is the kernel size.
    pub stride: (usize, usize),
    /// Implicit padding (−∞ for max, zeros for average).
    pub padding: (usize, usize),
    /// Spacing of window taps (max pooling only).
    pub dilation: (usize, usize),
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
}

impl Pool2dConfig {
    /// A k×k window with stride k.
    pub fn new(kernel: usize) -> Self {
        Pool2dConfig {
            kernel: (kernel, kernel),
            stride: (kernel, kernel),
            padding: (0, 0),
            dilation: (1, 1),
            ceil_mode: false,
        }
    }
}

/// PyTorch's `pooling_output_shape`.
fn pool_out(n: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> usize {
    let num = n as isize + 2 * p as isize - (d * (k - 1)) as isize - 1
        + if ceil { s as isize - 1 } else { 0 };
    let mut out = num.div_euclid(s as isize) + 1;
    if ceil && (out - 1) * s as isize >= (n + p) as isize {
        out -= 1;
    }
    out.max(0) as usize
}

enum Kind {
    Max {
        idx: Vec<usize>,
    },
    Avg {
        cfg: Pool2dConfig,
        count_include_pad: bool,
        divisor_override: Option<usize>,
    },
    Adaptive,
}

struct Pool {
    kind: Kind,
    hw: (usize, usize),
    out: (usize, usize),
}

/// (start, end) rows of the average window, and its divisor.
fn avg_window(o: usize, k: usize, s: usize, p: usize, n: usize) -> (usize, usize, usize) {
    let start = o as isize * s as isize - p as isize;
    let end = (start + k as isize).min((n + p) as isize);
    let size = (end - start) as usize;
    (start.max(0) as usize, end.min(n as isize) as usize, size)
}

fn adaptive_window(o: usize, out: usize, n: usize) -> (usize, usize) {
    ((o * n) / out, ((o + 1) * n).div_ceil(out))
}

impl Pool {
    /// For each output position of a plane: its input positions and weights.
    fn windows(&self, oy: usize, ox: usize) -> (Vec<usize>, f64) {
        let (h, w) = self.hw;
        match &self.kind {
            Kind::Avg {
                cfg,
                count_include_pad,
                divisor_override,
            } => {
                let (y0, y1, sy) = avg_window(oy, cfg.kernel.0, cfg.stride.0, cfg.padding.0, h);
                let (x0, x1, sx) = avg_window(ox, cfg.kernel.1, cfg.stride.1, cfg.padding.1, w);
                let valid = (y1.saturating_sub(y0)) * (x1.saturating_sub(x0));
                let div =
                    divisor_override.unwrap_or(if *count_include_pad { sy * sx } else { valid });
                let pos = (y0..y1)
                    .flat_map(|y| (x0..x1).map(move |x| y * w + x))
                    .collect();
                (pos, 1.0 / div as f64)
            }
            Kind::Adaptive => {
                let (y0, y1) = adaptive_window(oy, self.out.0, h);
                let (x0, x1) = adaptive_window(ox, self.out.1, w);
                let pos: Vec<usize> = (y0..y1)
                    .flat_map(|y| (x0..x1).map(move |x| y * w + x))
                    .collect();
                let n = pos.len() as f64;
                (pos, 1.0 / n)
            }
            Kind::Max { .. } => unreachable!("max pooling routes through its indices"),
        }
    }

    fn forward<T: Element>(&self, x: &[T], planes: usize) -> Vec<T> {
        let (h, w) = self.hw;
        let (oh, ow) = self.out;
        let mut out = vec![T::ZERO; planes * oh * ow];
        let work = planes * h * w;
        super::for_chunks(&mut out, oh * ow, work, |(p, o)| {
            let plane = &x[p * h * w..(p + 1) * h * w];
            for oy in 0..oh {
                for ox in 0..ow {
                    let (pos, scale) = self.windows(oy, ox);
                    let s: T = pos.iter().map(|&i| plane[i]).sum();
                    o[oy * ow + ox] = s * T::from_f64(scale);
                }
            }
        });
        out
    }

    fn backward<T: Element>(&self, g: &[T], planes: usize) -> Vec<T> {
        let (h, w) = self.hw;
        let (oh, ow) = self.out;
        let mut dx = vec![T::ZERO; planes * h * w];
        let work = planes * h * w;
        super::for_chunks(&mut dx, h * w, work, |(p, d)| {
            let gp = &g[p * oh * ow..(p + 1) * oh * ow];
            match &self.kind {
                Kind::Max { idx } => {
                    for (j, &gv) in gp.iter().enumerate() {
                        d[idx[p * oh * ow + j]] += gv;
                    }
                }
                _ => {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let (pos, scale) = self.windows(oy, ox);
                            let v = gp[oy * ow + ox] * T::from_f64(scale);
                            for i in pos {
                                d[i] += v;
                            }
                        }
                    }
                }
            }
        });
        dx
    }
}

impl Backward for Pool {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Max { .. } => "max_pool2d",
            Kind::Avg { .. } => "avg_pool2d",
            Kind::Adaptive => "adaptive_avg_pool2d",
        }
    }
    // max: the gradient goes to the arg-max; average: spread evenly over the window
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let x = &inputs[0];
        let planes = x.numel() / (self.hw.0 * self.hw.1).max(1);
        let s = dispatch!(&*grad.read_storage(), |g: T| T::wrap(
            self.backward(g, planes)
        ));
        sink.add(0, Tensor::from_storage(s, x.shape().to_vec()));
    }
}

#[track_caller]
fn planes(op: &str, x: &Tensor) -> (usize, usize, usize) {
    assert!(
        x.ndim() == 3 || x.ndim() == 4,
        "{op}: input shape {:?} must be [C, H, W] or [N, C, H, W]",
        x.shape()
    );
    let nd = x.ndim();
    (
        x.numel() / (x.shape()[nd - 2] * x.shape()[nd - 1]).max(1),
        x.shape()[nd - 2],
        x.shape()[nd - 1],
    )
}

fn out_shape(x: &Tensor, oh: usize, ow: usize) -> Vec<usize> {
    let mut s = x.shape().to_vec();
    let nd = s.len();
    s[nd - 2] = oh;
    s[nd - 1] = ow;
    s
}

/// One output row of a 2×2, stride-2 max pool without padding: `r0` and
/// `r1` are the two input rows (row `r0` starts at plane index `base`, rows
/// are `w` long). Each window's first maximum, in the order the general
/// loop visits it, and its plane index; true if the row holds a NaN (then
/// the caller redoes it, so the first NaN wins).
#[inline(always)]
fn max2x2_row<T: Element>(
    r0: &[T],
    r1: &[T],
    base: usize,
    w: usize,
    o: &mut [T],
    ix: &mut [usize],
) -> bool {
    let n = o.len();
    let (r0, r1, ix) = (&r0[..2 * n], &r1[..2 * n], &mut ix[..n]);
    let mut nan = false;
    for k in 0..n {
        let at = base + 2 * k;
        let (mut best, mut bi) = (r0[2 * k], at);
        for (val, i) in [
            (r0[2 * k + 1], at + 1),
            (r1[2 * k], at + w),
            (r1[2 * k + 1], at + w + 1),
        ] {
            let better = val > best;
            best = if better { val } else { best };
            bi = if better { i } else { bi };
        }
        nan |= r0[2 * k].is_nan()
            | r0[2 * k + 1].is_nan()
            | r1[2 * k].is_nan()
            | r1[2 * k + 1].is_nan();
        o[k] = best;
        ix[k] = bi;
    }
    nan
}

super::wide::wide_copies!(fn max2x2_row_wide[T: Element](
    r0: &[T],
    r1: &[T],
    base: usize,
    w: usize,
    o: &mut [T],
    ix: &mut [usize]
) -> bool = max2x2_row[T]);

/// Max pooling over [N, C, H, W] (or [C, H, W]); padding counts as −∞; the
/// gradient goes to the first maximum of each window (NaN wins), as in PyTorch.
///
/// **Panics** if the input is not 3-D/4-D or the window does not fit.
///
/// ```
/// use downhill::ops::{max_pool2d, Pool2dConfig};
/// use downhill::Tensor;
/// let x = Tensor::arange(0.0, 16.0, 1.0).reshape(&[1, 1, 4, 4]);
/// assert_eq!(max_pool2d(&x, Pool2dConfig::new(2)).to_vec_f64(), vec![5.0, 7.0, 13.0, 15.0]);
/// ```
#[track_caller]
pub fn max_pool2d(x: &Tensor, cfg: Pool2dConfig) -> Tensor {
    let (np, h, w) = planes("max_pool2d", x);
    assert!(
        cfg.padding.0 * 2 <= cfg.kernel.0 && cfg.padding.1 * 2 <= cfg.kernel.1,
        "max_pool2d: padding {:?} must be at most half the kernel {:?}",
        cfg.padding,
        cfg.kernel
    );
    let oh = pool_out(
        h,
        cfg.kernel.0,
        cfg.stride.0,
        cfg.padding.0,
        cfg.dilation.0,
        cfg.ceil_mode,
    );
    let ow = pool_out(
        w,
        cfg.kernel.1,
        cfg.stride.1,
        cfg.padding.1,
        cfg.dilation.1,
        cfg.ceil_mode,
    );
    assert!(
        oh > 0 && ow > 0,
        "max_pool2d: input shape {:?} is smaller than the window {:?}",
        x.shape(),
        cfg.kernel
    );
    let (s, idx) = dispatch!(&*x.read_storage(), |v: T| {
        let mut out = vec![T::ZERO; np * oh * ow];
        let mut idx = vec![0usize; np * oh * ow];
        let per_plane = |(p, (o, ix)): (usize, (&mut [T], &mut [usize]))| {
            let plane = &v[p * h * w..(p + 1) * h * w];
            if cfg.padding == (0, 0) && cfg.dilation == (1, 1) && !cfg.ceil_mode {
                // Every window lies inside the plane: no bounds to test. The
                // arg-max runs branch-free; a NaN (rare) is found afterwards,
                // so the first NaN of a window wins as in PyTorch.
                let (kh, kw, sh, sw) = (cfg.kernel.0, cfg.kernel.1, cfg.stride.0, cfg.stride.1);
                for oy in 0..oh {
                    let orow = &mut o[oy * ow..(oy + 1) * ow];
                    let irow = &mut ix[oy * ow..(oy + 1) * ow];
                    if (kh, kw, sh, sw) == (2, 2, 2, 2) {
                        // The common 2×2 window at stride 2, a row at a time
                        // and vectorized; a row with a NaN is redone below.
                        let base = 2 * oy * w;
                        let (r0, r1) = (&plane[base..base + w], &plane[base + w..base + 2 * w]);
                        if !max2x2_row_wide(r0, r1, base, w, orow, irow) {
                            continue;
                        }
                    }
                    for ox in 0..ow {
                        let base = oy * sh * w + ox * sw;
                        let (mut best, mut bi) = (plane[base], base);
                        let mut nan = false;
                        for r in 0..kh {
                            let start = base + r * w;
                            for (c, &val) in plane[start..start + kw].iter().enumerate() {
                                let better = val > best;
                                best = if better { val } else { best };
                                bi = if better { start + c } else { bi };
                                nan |= val.is_nan();
                            }
                        }
                        if nan {
                            'find: for r in 0..kh {
                                for c in 0..kw {
                                    let pos = base + r * w + c;
                                    if plane[pos].is_nan() {
                                        (best, bi) = (plane[pos], pos);
                                        break 'find;
                                    }
                                }
                            }
                        }
                        orow[ox] = best;
                        irow[ox] = bi;
                    }
                }
                return;
            }
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best = -T::infinity();
                    let mut bi = usize::MAX;
                    for i in 0..cfg.kernel.0 {
                        let iy = (oy * cfg.stride.0 + i * cfg.dilation.0) as isize
                            - cfg.padding.0 as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        for j in 0..cfg.kernel.1 {
                            let ix_ = (ox * cfg.stride.1 + j * cfg.dilation.1) as isize
                                - cfg.padding.1 as isize;
                            if ix_ < 0 || ix_ >= w as isize {
                                continue;
                            }
                            let pos = iy as usize * w + ix_ as usize;
                            let val = plane[pos];
                            if val > best || val.is_nan() || bi == usize::MAX {
                                best = val;
                                bi = pos;
                                if val.is_nan() {
                                    break;
                                }
                            }
                        }
                    }
                    o[oy * ow + ox] = best;
                    ix[oy * ow + ox] = bi;
                }
            }
        };
        if np * h * w >= super::PAR_WORK {
            out.par_chunks_mut(oh * ow)
                .zip(idx.par_chunks_mut(oh * ow))
                .enumerate()
                .for_each(per_plane);
        } else {
            out.chunks_mut(oh * ow)
                .zip(idx.chunks_mut(oh * ow))
                .enumerate()
                .for_each(per_plane);
        }
        (T::wrap(out), idx)
    });
    let op = Pool {
        kind: Kind::Max { idx },
        hw: (h, w),
        out: (oh, ow),
    };
    Tensor::from_op(s, out_shape(x, oh, ow), &[x], op)
}

/// Average pooling over [N, C, H, W] (or [C, H, W]) with PyTorch's divisor:
/// the window size clipped to the padded input (`count_include_pad`), the
/// valid positions only, or `divisor_override`.
///
/// **Panics** if the input is not 3-D/4-D or the window does not fit.
///
/// ```
/// use downhill::ops::{avg_pool2d, Pool2dConfig};
/// use downhill::Tensor;
/// let x = Tensor::ones(&[1, 1, 4, 4]);
/// assert_eq!(avg_pool2d(&x, Pool2dConfig::new(2), true, None).to_vec_f64(), vec![1.0; 4]);
/// ```
#[track_caller]
pub fn avg_pool2d(
    x: &Tensor,
    cfg: Pool2dConfig,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Tensor {
    let (np, h, w) = planes("avg_pool2d", x);
    assert!(
        cfg.padding.0 * 2 <= cfg.kernel.0 && cfg.padding.1 * 2 <= cfg.kernel.1,
        "avg_pool2d: padding {:?} must be at most half the kernel {:?}",
        cfg.padding,
        cfg.kernel
    );
    let oh = pool_out(
        h,
        cfg.kernel.0,
        cfg.stride.0,
        cfg.padding.0,
        1,
        cfg.ceil_mode,
    );
    let ow = pool_out(
        w,
        cfg.kernel.1,
        cfg.stride.1,
        cfg.padding.1,
        1,
        cfg.ceil_mode,
    );
    assert!(
        oh > 0 && ow > 0,
        "avg_pool2d: input shape {:?} is smaller than the window {:?}",
        x.shape(),
        cfg.kernel
    );
    let op = Pool {
        kind: Kind::Avg {
            cfg,
            count_include_pad,
            divisor_override,
        },
        hw: (h, w),
        out: (oh, ow),
    };
    let s = dispatch!(&*x.read_storage(), |v: T| T::wrap(op.forward(v, np)));
    Tensor::from_op(s, out_shape(x, oh, ow), &[x], op)
}

/// Adaptive average pooling to `output` (OH, OW): window i spans
/// [⌊i·H/OH⌋, ⌈(i+1)·H/OH⌉).
///
/// **Panics** if the input is not 3-D/4-D or an output size is 0.
///
/// ```
/// use downhill::ops::adaptive_avg_pool2d;
/// use downhill::Tensor;
/// let x = Tensor::arange(0.0, 9.0, 1.0).reshape(&[1, 1, 3, 3]);
/// assert_eq!(adaptive_avg_pool2d(&x, (1, 1)).item(), 4.0);
/// ```
#[track_caller]
pub fn adaptive_avg_pool2d(x: &Tensor, output: (usize, usize)) -> Tensor {
    let (np, h, w) = planes("adaptive_avg_pool2d", x);
    assert!(
        output.0 > 0 && output.1 > 0,
        "adaptive_avg_pool2d: output size {output:?} must be positive"
    );
    let op = Pool {
        kind: Kind::Adaptive,
        hw: (h, w),
        out: output,
    };
    let s = dispatch!(&*x.read_storage(), |v: T| T::wrap(op.forward(v, np)));
    Tensor::from_op(s, out_shape(x, output.0, output.1), &[x], op)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each 2×2 window's first maximum (a NaN first of all), by the plain
    /// definition: values and where the gradient goes.
    fn reference(x: &[f32], h: usize, w: usize) -> (Vec<f32>, Vec<f32>) {
        let (oh, ow) = (h / 2, w / 2);
        let (mut out, mut dx) = (vec![], vec![0.0; h * w]);
        for oy in 0..oh {
            for ox in 0..ow {
                let cells =
                    [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(r, c)| (2 * oy + r) * w + 2 * ox + c);
                let at = cells
                    .iter()
                    .copied()
                    .find(|&i| x[i].is_nan())
                    .unwrap_or_else(|| {
                        cells
                            .iter()
                            .copied()
                            .fold(cells[0], |b, i| if x[i] > x[b] { i } else { b })
                    });
                out.push(x[at]);
                dx[at] = 1.0;
            }
        }
        (out, dx)
    }

    #[test]
    fn the_2x2_row_path_takes_each_windows_first_maximum() {
        let mut g = crate::Generator::new(7);
        for (h, w, nans) in [(6, 8, false), (5, 7, false), (4, 34, true), (9, 3, true)] {
            // Few distinct values, so windows hold ties.
            let mut x: Vec<f32> = Tensor::randn(&[h * w], &mut g)
                .to_vec_f32()
                .iter()
                .map(|v| (v * 2.0).round())
                .collect();
            if nans {
                x[w + 1] = f32::NAN;
                x[2 * w + 3] = f32::NAN;
                x[2 * w + 2] = f32::NAN;
            }
            let t = Tensor::from_vec(x.clone(), &[1, 1, h, w]).requires_grad_(true);
            let y = max_pool2d(&t, Pool2dConfig::new(2));
            let grads = y.sum().backward();
            let (out, dx) = reference(&x, h, w);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&y.to_vec_f32()), bits(&out), "{h}x{w}");
            assert_eq!(grads.get(&t).unwrap().to_vec_f32(), dx, "{h}x{w}");
        }
    }
}
