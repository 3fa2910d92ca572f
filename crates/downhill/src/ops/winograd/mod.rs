//! 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3)
//! (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
//! 2016): each 2×2 block of outputs ("tile") is computed from a 4×4 block
//! of input with 16 multiplications per input channel instead of 36.
//!
//! In matrix form, with d a 4×4 input tile and g a 3×3 filter,
//! Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A. Over channels the ⊙ becomes, for each
//! of the 16 positions ξ of the 4×4 transform, one GEMM
//! M[ξ] (O × tiles) = U[ξ] (O × C) · V[ξ] (C × tiles), so 16 GEMMs with an
//! inner dimension of C replace one with an inner dimension of 9·C: 2.25×
//! fewer multiplications. The transforms are additions (and halvings of
//! the filter, exact in binary floating point); they run a row of tiles at
//! a time on contiguous rows. A chunk of images is transformed, multiplied
//! and transformed back before the next, in buffers its worker reuses.
//!
//! The results are the convolution's to rounding (the sums are grouped
//! differently from im2col's), and the same bits for any number of
//! threads: chunks are cut by the shapes alone and each output is computed
//! by one fixed sequence of operations.

mod tiles;

use super::chunks::chunks;
use super::matmul::gemm;
use super::patches::{Geometry, CHUNK_ELEMENTS, MIN_CHUNKS};
use crate::tensor::storage::HasStorage;
use crate::tensor::Element;
use tiles::{gradients, inputs, outputs};

/// Fewest input and output channels for which the transforms cost less
/// than the multiplications they save (below it, im2col).
const MIN_CHANNELS: usize = 16;

/// True if `g` is a convolution this module computes: 3×3, stride 1,
/// dilation 1, one group, at least [`MIN_CHANNELS`] channels each way.
pub(super) fn applies(g: &Geometry) -> bool {
    let cfg = g.cfg;
    g.kh == 3
        && g.kw == 3
        && cfg.stride == (1, 1)
        && cfg.dilation == (1, 1)
        && cfg.groups == 1
        && g.c >= MIN_CHANNELS
        && g.o >= MIN_CHANNELS
}

/// An image's tiles: `th` rows of `tw` 2×2 output blocks, laid out `s` =
/// tw + 1 to a row. The extra tile of each row is computed and never
/// written out: with it, tile (ty, tx) reads its input at the same offset
/// ty·s + tx in each of the input's four row/column parity planes, so one
/// loop runs over all of an image's tiles (a row's 16 would be too short a
/// loop to vectorize).
#[derive(Clone, Copy)]
struct Grid {
    pub(super) th: usize,
    pub(super) s: usize,
}

impl Grid {
    fn of(g: &Geometry) -> Grid {
        let tw = g.ow.div_ceil(2);
        Grid {
            th: g.oh.div_ceil(2),
            s: tw + 1,
        }
    }

    pub(super) fn per_image(&self) -> usize {
        self.th * self.s
    }

    /// Elements of one parity plane of an image's padded input: (th + 1)
    /// rows of s, and one more for the extra tile of the last row.
    pub(super) fn parity_plane(&self) -> usize {
        (self.th + 1) * self.s + 1
    }
}

/// Images per chunk: as many as keep a chunk's transformed input (16 × C ×
/// tiles) and products (16 × O × tiles) within [`CHUNK_ELEMENTS`] each, at
/// most a [`MIN_CHUNKS`]th of the batch, at least one. From the shapes
/// alone, so the bits do not depend on the number of threads.
fn chunk_images(g: &Geometry) -> usize {
    let per_image = 16 * g.c.max(g.o) * Grid::of(g).per_image();
    (CHUNK_ELEMENTS / 4 / per_image.max(1)).clamp(1, g.n.div_ceil(MIN_CHUNKS).max(1))
}

/// The convolution of `x` [N, C, H, W] by `w` [O, C, 3, 3] (+ `bias`) as
/// [`Geometry`] `g` describes it (3×3, stride 1, dilation 1, one group):
/// [N, O, OH, OW].
pub(super) fn conv3x3<T: Element + HasStorage>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
) -> Vec<T> {
    let u = filters(w, g.o, g.c);
    let grid = Grid::of(g);
    let b = chunk_images(g);
    let out_image = g.o * g.oh * g.ow;
    // Every output is written by `outputs`.
    let mut out = crate::tensor::pool::overwritten::<T>(g.n * out_image);
    chunks(&mut out, out_image, b, |chunk, part, scratch, parallel| {
        let images = part.len() / out_image.max(1);
        let t = images * grid.per_image();
        let (v, m) = scratch.buffers(16 * g.c, 16 * g.o, t);
        inputs(x, g, grid, chunk * b, images, t, v);
        for xi in 0..16 {
            gemm(
                parallel,
                g.o,
                t,
                g.c,
                &u[xi * g.o * g.c..(xi + 1) * g.o * g.c],
                false,
                &v[xi * g.c * t..(xi + 1) * g.c * t],
                false,
                &mut m[xi * g.o * t..(xi + 1) * g.o * t],
                false,
            );
        }
        outputs(m, bias, g, grid, images, t, part);
    });
    out
}

/// The weight gradient [O, C, 3, 3] of [`conv3x3`] for output gradient
/// `gy`, in the transform's domain: with M[ξ] = U[ξ]·V[ξ] and Y = Aᵀ M A
/// per tile, ∂L/∂M = A dY Aᵀ ([`gradients`]), ∂L/∂U[ξ] = ∂L/∂M[ξ]·V[ξ]ᵀ
/// (16 GEMMs over the tiles, each chunk's added in chunk order) and
/// ∂L/∂g = Gᵀ (∂L/∂U) G. The tiles beyond the output have a zero gradient,
/// so they add nothing.
pub(super) fn weight_grad<T: Element>(x: &[T], gy: &[T], g: &Geometry) -> Vec<T> {
    let grid = Grid::of(g);
    let b = chunk_images(g);
    let (c, o) = (g.c, g.o);
    let mut marks = vec![T::ZERO; g.n];
    let partials = chunks(&mut marks, 1, b, |chunk, part, scratch, parallel| {
        let images = part.len();
        let t = images * grid.per_image();
        let (v, dm) = scratch.buffers(16 * c, 16 * o, t);
        inputs(x, g, grid, chunk * b, images, t, v);
        gradients(gy, g, grid, chunk * b, images, t, dm);
        let mut du = vec![T::ZERO; 16 * o * c];
        for xi in 0..16 {
            gemm(
                parallel,
                o,
                c,
                t,
                &dm[xi * o * t..(xi + 1) * o * t],
                false,
                &v[xi * c * t..(xi + 1) * c * t],
                true,
                &mut du[xi * o * c..(xi + 1) * o * c],
                false,
            );
        }
        du
    });
    let mut du = vec![T::ZERO; 16 * o * c];
    for p in &partials {
        du.iter_mut().zip(p).for_each(|(d, &v)| *d += v);
    }
    filter_grads(&du, o, c)
}

/// ∂L/∂g = Gᵀ (∂L/∂U) G of every filter, from ∂L/∂U stored as U is;
/// Gᵀ u = (u0 + ½u1 + ½u2, ½u1 − ½u2, ½u1 + ½u2 + u3).
fn filter_grads<T: Element>(du: &[T], o: usize, c: usize) -> Vec<T> {
    let half = T::from_f64(0.5);
    let reduce = |u: [T; 4]| {
        [
            u[0] + u[1] * half + u[2] * half,
            u[1] * half - u[2] * half,
            u[1] * half + u[2] * half + u[3],
        ]
    };
    let mut dw = vec![T::ZERO; o * c * 9];
    for (f, d) in dw.chunks_exact_mut(9).enumerate() {
        let u: [[T; 4]; 4] =
            std::array::from_fn(|r| std::array::from_fn(|q| du[(4 * r + q) * o * c + f]));
        // Gᵀ down the columns, then along the rows.
        let cols: [[T; 3]; 4] =
            std::array::from_fn(|q| reduce([u[0][q], u[1][q], u[2][q], u[3][q]]));
        for i in 0..3 {
            let row = reduce([cols[0][i], cols[1][i], cols[2][i], cols[3][i]]);
            d[3 * i..3 * i + 3].copy_from_slice(&row);
        }
    }
    dw
}

/// U = G g Gᵀ of every filter, stored U[ξ][o][c] (ξ = 4·row + column of the
/// 4×4 transform), G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
fn filters<T: Element>(w: &[T], o: usize, c: usize) -> Vec<T> {
    let half = T::from_f64(0.5);
    let mut u = vec![T::ZERO; 16 * o * c];
    for (f, g) in w.chunks_exact(9).enumerate() {
        // G g: 4 rows of 3.
        let mut t = [[T::ZERO; 3]; 4];
        for j in 0..3 {
            let (a, b, cc) = (g[j], g[3 + j], g[6 + j]);
            t[0][j] = a;
            t[1][j] = (a + b + cc) * half;
            t[2][j] = (a - b + cc) * half;
            t[3][j] = cc;
        }
        // (G g) Gᵀ: 4 × 4.
        for (r, row) in t.iter().enumerate() {
            let [a, b, cc] = *row;
            let cols = [a, (a + b + cc) * half, (a - b + cc) * half, cc];
            for (q, &val) in cols.iter().enumerate() {
                u[(4 * r + q) * o * c + f] = val;
            }
        }
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::patches::Conv2dConfig;
    use crate::Generator;

    fn close(what: &str, got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (i, (a, e)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - e).abs() <= 1e-12 * (1.0 + e.abs()),
                "{what}[{i}]: {a} vs {e}"
            );
        }
    }

    /// conv(x, w) + b by direct loops (f64), and the weight gradient of
    /// Σ gy·y.
    fn direct(x: &[f64], w: &[f64], b: &[f64], gy: &[f64], g: &Geometry) -> (Vec<f64>, Vec<f64>) {
        let (ph, pw) = g.cfg.padding;
        let mut y = vec![0.0; g.n * g.o * g.oh * g.ow];
        let mut dw = vec![0.0; w.len()];
        for n in 0..g.n {
            for o in 0..g.o {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut acc = b[o];
                        for c in 0..g.c {
                            for i in 0..3 {
                                for j in 0..3 {
                                    let iy = (oy + i) as isize - ph as isize;
                                    let ix = (ox + j) as isize - pw as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xv =
                                        x[((n * g.c + c) * g.h + iy as usize) * g.w + ix as usize];
                                    let wi = ((o * g.c + c) * 3 + i) * 3 + j;
                                    acc += xv * w[wi];
                                    dw[wi] += xv * gy[((n * g.o + o) * g.oh + oy) * g.ow + ox];
                                }
                            }
                        }
                        y[((n * g.o + o) * g.oh + oy) * g.ow + ox] = acc;
                    }
                }
            }
        }
        (y, dw)
    }

    /// Odd and even sizes, paddings 0-2, one image per chunk and several,
    /// few channels (the module's threshold is for speed, not correctness).
    #[test]
    fn tiles_give_the_direct_convolution() {
        let mut r = Generator::new(7);
        for (n, c, o, h, w, p) in [
            (1, 1, 1, 4, 4, 0),
            (2, 3, 2, 5, 7, 1),
            (5, 2, 3, 6, 5, 2),
            (3, 4, 5, 9, 8, 1),
            (9, 2, 2, 3, 3, 1),
            (2, 16, 17, 11, 10, 1),
        ] {
            let cfg = Conv2dConfig {
                padding: (p, p),
                ..Default::default()
            };
            let g = Geometry::new((n, c, h, w), (o, c, 3, 3), cfg);
            let x: Vec<f64> = (0..n * c * h * w).map(|_| r.normal()).collect();
            let wt: Vec<f64> = (0..o * c * 9).map(|_| r.normal()).collect();
            let b: Vec<f64> = (0..o).map(|_| r.normal()).collect();
            let gy: Vec<f64> = (0..n * o * g.oh * g.ow).map(|_| r.normal()).collect();
            let (want, want_dw) = direct(&x, &wt, &b, &gy, &g);
            let what = format!("{n}x{c}x{h}x{w} -> {o}, padding {p}");
            close(
                &format!("{what}: output"),
                &conv3x3(&x, &wt, Some(&b), &g),
                &want,
            );
            close(
                &format!("{what}: weight gradient"),
                &weight_grad(&x, &gy, &g),
                &want_dw,
            );
        }
    }

    #[test]
    fn applies_to_3x3_stride_1_single_group_with_enough_channels() {
        let geo = |c, o, k, s, d, groups| {
            let cfg = Conv2dConfig {
                stride: (s, s),
                padding: (1, 1),
                dilation: (d, d),
                groups,
            };
            Geometry::new((2, c, 8, 8), (o, c / groups, k, k), cfg)
        };
        assert!(applies(&geo(64, 64, 3, 1, 1, 1)));
        assert!(!applies(&geo(3, 64, 3, 1, 1, 1)));
        assert!(!applies(&geo(64, 64, 5, 1, 1, 1)));
        assert!(!applies(&geo(64, 64, 3, 2, 1, 1)));
        assert!(!applies(&geo(64, 64, 3, 1, 2, 1)));
        assert!(!applies(&geo(64, 64, 3, 1, 1, 2)));
    }
}
