//! The geometry of a 2-D convolution and its patch matrices: the
//! configuration, output sizes, how many images a chunk holds, im2col and
//! its adjoint col2im for a chunk of images, and the transposed geometry
//! whose convolution gives a stride-1 convolution's input gradient.

use rayon::prelude::*;

use crate::tensor::Element;

/// Stride, padding, dilation and groups of a 2-D convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// (height, width) step between windows.
    pub stride: (usize, usize),
    /// (height, width) zeros added on each side.
    pub padding: (usize, usize),
    /// (height, width) spacing of kernel taps.
    pub dilation: (usize, usize),
    /// Channel groups.
    pub groups: usize,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

/// Output length of a convolution or pooling window: ⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1.
pub fn conv_out(n: usize, k: usize, s: usize, p: usize, d: usize) -> usize {
    let span = d * (k - 1) + 1;
    if n + 2 * p < span {
        0
    } else {
        (n + 2 * p - span) / s + 1
    }
}

#[derive(Clone, Copy)]
pub(super) struct Geometry {
    pub(super) n: usize,
    pub(super) c: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) o: usize,
    pub(super) cg: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) cfg: Conv2dConfig,
    /// Images per chunk ([`chunk_images`]).
    pub(super) chunk: usize,
}

impl Geometry {
    /// The geometry of input [n, c, h, w] and weight [o, cg, kh, kw] under
    /// `cfg`: output size by [`conv_out`], images per chunk by [`chunk_images`].
    pub(super) fn new(
        (n, c, h, w): (usize, usize, usize, usize),
        (o, cg, kh, kw): (usize, usize, usize, usize),
        cfg: Conv2dConfig,
    ) -> Geometry {
        let oh = conv_out(h, kh, cfg.stride.0, cfg.padding.0, cfg.dilation.0);
        let ow = conv_out(w, kw, cfg.stride.1, cfg.padding.1, cfg.dilation.1);
        Geometry {
            n,
            c,
            h,
            w,
            o,
            cg,
            kh,
            kw,
            oh,
            ow,
            cfg,
            chunk: chunk_images(n, cg * kh * kw, oh * ow),
        }
    }

    /// The images a patch matrix of `len` elements (K × b·L) holds.
    fn images_in(&self, len: usize) -> usize {
        len / self.k().max(1) / self.l().max(1)
    }

    /// True if the forward's patch matrices are the ones the weight
    /// gradient needs and small enough to keep until backward: one group,
    /// and the whole batch's patches at most [`CHUNK_ELEMENTS`].
    pub(super) fn keeps_patches(&self) -> bool {
        self.cfg.groups == 1 && self.n * self.k() * self.l() <= CHUNK_ELEMENTS
    }

    pub(super) fn k(&self) -> usize {
        self.cg * self.kh * self.kw
    }
    pub(super) fn l(&self) -> usize {
        self.oh * self.ow
    }

    /// For a stride-1 convolution whose padding is at most its kernel's
    /// dilated reach d·(k − 1) and whose output is as large as its input
    /// (a "same" convolution, as in ResNet's blocks): the geometry of its
    /// input gradient computed as a convolution, dx = conv(gy, W flipped and
    /// transposed, padding d·(k − 1) − p). Its GEMM has the forward's shape
    /// (inner dimension O/groups·kH·kW instead of O/groups) and needs no
    /// col2im. A smaller output would make it multiply padding zeros: LeNet's
    /// 5×5 on 12×12 did 2.25× the work and ran 1.5× slower.
    pub(super) fn transposed(&self) -> Option<Geometry> {
        let cfg = self.cfg;
        let reach = (
            cfg.dilation.0 * self.kh.saturating_sub(1),
            cfg.dilation.1 * self.kw.saturating_sub(1),
        );
        if cfg.stride != (1, 1)
            || cfg.padding.0 > reach.0
            || cfg.padding.1 > reach.1
            || self.oh * self.ow < self.h * self.w
        {
            return None;
        }
        let og = self.o / cfg.groups;
        Some(Geometry {
            n: self.n,
            c: self.o,
            h: self.oh,
            w: self.ow,
            o: self.c,
            cg: og,
            kh: self.kh,
            kw: self.kw,
            oh: self.h,
            ow: self.w,
            cfg: Conv2dConfig {
                stride: (1, 1),
                padding: (reach.0 - cfg.padding.0, reach.1 - cfg.padding.1),
                dilation: cfg.dilation,
                groups: cfg.groups,
            },
            chunk: chunk_images(self.n, og * self.kh * self.kw, self.h * self.w),
        })
    }

    /// The weights of [`Geometry::transposed`]: w'[g·Cg + c, o, i, j] =
    /// w[g·Og + o, c, kH − 1 − i, kW − 1 − j], shape [C, O/groups, kH, kW].
    pub(super) fn flipped<T: Element>(&self, w: &[T]) -> Vec<T> {
        let og = self.o / self.cfg.groups;
        let (kh, kw) = (self.kh, self.kw);
        let mut out = vec![T::ZERO; w.len()];
        for group in 0..self.cfg.groups {
            for c in 0..self.cg {
                for o in 0..og {
                    let src = ((group * og + o) * self.cg + c) * kh * kw;
                    let dst = ((group * self.cg + c) * og + o) * kh * kw;
                    for t in 0..kh * kw {
                        out[dst + t] = w[src + kh * kw - 1 - t];
                    }
                }
            }
        }
        out
    }
}

/// The outputs `lo..hi` whose input column ox·s + tap − pad falls inside [0, w).
fn valid_range(ow: usize, w: usize, s: usize, tap: usize, pad: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(tap).div_ceil(s);
    // the largest ox with ox·s + tap − pad ≤ w − 1, plus one
    let hi = if w + pad > tap {
        ((w + pad - tap - 1) / s + 1).min(ow)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// The most elements of a chunk's patch matrix (4 MB of `f32`): large
/// enough for GEMMs that keep the vector units busy, small enough that the
/// buffer stays in the caches and is reused from one chunk to the next
/// instead of a fresh batch-sized one (whose page faults cost more than the
/// GEMM: 75 MB per direction for a 64-channel 3×3 convolution of 32 images
/// of 32×32).
pub(super) const CHUNK_ELEMENTS: usize = 1 << 20;

/// Least number of chunks a batch is cut into (when it has that many
/// images): each chunk's GEMM then runs on one thread, the chunks side by
/// side, instead of one batch-wide GEMM whose few rows (LeNet's 6 or 16
/// output channels) split poorly over threads.
pub(super) const MIN_CHUNKS: usize = 4;

/// Images per chunk: as many as fit [`CHUNK_ELEMENTS`], at most a
/// [`MIN_CHUNKS`]th of the batch, at least one. It depends on the shapes
/// alone, so the sums (and the bits) do not depend on the number of threads.
pub(super) fn chunk_images(n: usize, k: usize, l: usize) -> usize {
    (CHUNK_ELEMENTS / (k * l).max(1)).clamp(1, n.div_ceil(MIN_CHUNKS).max(1))
}

/// `f(i, part)` on each `size`-element part of `data`: in parallel if
/// `parallel`.
fn each_part<T: Element>(
    data: &mut [T],
    size: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    if parallel {
        data.par_chunks_mut(size.max(1))
            .enumerate()
            .for_each(|(i, p)| f(i, p));
    } else {
        data.chunks_mut(size.max(1))
            .enumerate()
            .for_each(|(i, p)| f(i, p));
    }
}

/// Patches of group `group` for the `b` images from `n0`: cols[k, i·L + l]
/// (image `n0 + i`) with k = (c·KH + i)·KW + j, overwriting `cols` (K × b·L).
/// Each output row copies the in-bounds span of an input row (a slice copy
/// at stride 1); out-of-bounds taps are zero. Rows in parallel if `parallel`.
pub(super) fn im2col<T: Element>(
    x: &[T],
    g: &Geometry,
    group: usize,
    n0: usize,
    cols: &mut [T],
    parallel: bool,
) {
    let (l, b) = (g.l(), g.images_in(cols.len()));
    let ((sh, sw), (ph, pw), (dh, dw)) = (g.cfg.stride, g.cfg.padding, g.cfg.dilation);
    each_part(cols, b * l, parallel, |row, out| {
        let c = group * g.cg + row / (g.kh * g.kw);
        let (i, j) = ((row / g.kw) % g.kh, row % g.kw);
        let (lo, hi) = valid_range(g.ow, g.w, sw, j * dw, pw);
        let off = (j * dw) as isize - pw as isize;
        for (k, image) in out.chunks_mut(l).enumerate() {
            let n = n0 + k;
            let plane = &x[(n * g.c + c) * g.h * g.w..(n * g.c + c + 1) * g.h * g.w];
            for (oy, dst) in image.chunks_mut(g.ow).enumerate() {
                let iy = (oy * sh + i * dh) as isize - ph as isize;
                if iy < 0 || iy >= g.h as isize || lo >= hi {
                    dst.fill(T::ZERO);
                    continue;
                }
                dst[..lo].fill(T::ZERO);
                dst[hi..].fill(T::ZERO);
                let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                if sw == 1 {
                    let s0 = (lo as isize + off) as usize;
                    dst[lo..hi].copy_from_slice(&src[s0..s0 + (hi - lo)]);
                } else {
                    for (ox, d) in dst.iter_mut().enumerate().take(hi).skip(lo) {
                        *d = src[(ox as isize * sw as isize + off) as usize];
                    }
                }
            }
        }
    });
}

/// Adds the patch gradients `cols` (K × b·L, as [`im2col`] lays them out)
/// of group `group` back into `dx`, the input gradient of those `b` images
/// (the adjoint of im2col). Image planes in parallel if `parallel`.
pub(super) fn col2im<T: Element>(
    cols: &[T],
    g: &Geometry,
    group: usize,
    dx: &mut [T],
    parallel: bool,
) {
    let (l, b) = (g.l(), g.images_in(cols.len()));
    let ((sh, sw), (ph, pw), (dh, dw)) = (g.cfg.stride, g.cfg.padding, g.cfg.dilation);
    let hw = g.h * g.w;
    each_part(dx, hw, parallel, |plane_idx, plane| {
        let (n, c) = (plane_idx / g.c, plane_idx % g.c);
        if c / g.cg != group {
            return;
        }
        let cl = c - group * g.cg;
        for i in 0..g.kh {
            for j in 0..g.kw {
                let row = (cl * g.kh + i) * g.kw + j;
                let src = &cols[row * b * l + n * l..row * b * l + (n + 1) * l];
                let (lo, hi) = valid_range(g.ow, g.w, sw, j * dw, pw);
                let off = (j * dw) as isize - pw as isize;
                for oy in 0..g.oh {
                    let iy = (oy * sh + i * dh) as isize - ph as isize;
                    if iy < 0 || iy >= g.h as isize || lo >= hi {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let srow = &src[oy * g.ow..(oy + 1) * g.ow];
                    if sw == 1 {
                        let d0 = (lo as isize + off) as usize;
                        dst[d0..d0 + (hi - lo)]
                            .iter_mut()
                            .zip(&srow[lo..hi])
                            .for_each(|(d, &v)| *d += v);
                    } else {
                        for (ox, &v) in srow.iter().enumerate().take(hi).skip(lo) {
                            dst[(ox as isize * sw as isize + off) as usize] += v;
                        }
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_holds_at_most_a_few_mb_of_patches_and_at_least_one_image() {
        assert_eq!(chunk_images(32, 576, 1024), 1);
        assert_eq!(chunk_images(64, 25, 576), 16);
        assert_eq!(chunk_images(64, 150, 64), 16);
        assert_eq!(chunk_images(7, 150, 64), 2);
        assert_eq!(chunk_images(1000, 150, 64), CHUNK_ELEMENTS / 9600);
        assert_eq!(chunk_images(0, 9, 9), 1);
    }
}
