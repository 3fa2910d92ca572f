//! The transforms between a chunk's images and Winograd's tile domain:
//! input tiles V = Bᵀ d B, output tiles Y = Aᵀ M A (+ bias) and output
//! gradients ∂L/∂M = A dY Aᵀ. Each runs per image and channel over all of
//! the image's tiles at once, on the row/column parity planes of the plane
//! (so every access is unit-stride and the loops vectorize).

use super::Grid;
use crate::ops::patches::Geometry;
use crate::ops::wide::wide_copies;
use crate::tensor::Element;

/// V = Bᵀ d B of every input tile of the chunk, stored V[ξ][c][tile] with
/// tile = (image·TH + ty)·s + tx ([`Grid`]), Bᵀ = [[1, 0, −1, 0],
/// [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]. Per image and channel:
/// the zero-padded input split into its four row/column parity planes,
/// then [`input_tiles`] over all its tiles.
pub(super) fn inputs<T: Element>(
    x: &[T],
    g: &Geometry,
    grid: Grid,
    n0: usize,
    images: usize,
    t: usize,
    v: &mut [T],
) {
    let n = grid.per_image();
    let layout = Padding {
        h: g.h,
        w: g.w,
        pad: g.cfg.padding,
        rows: 2 * grid.th + 2,
        s: grid.s,
        plane: grid.parity_plane(),
    };
    let plane_len = layout.plane;
    let mut parity = vec![T::ZERO; 4 * plane_len];
    let mut planes = v.chunks_exact_mut(g.c * t);
    let mut planes: [&mut [T]; 16] =
        std::array::from_fn(|_| planes.next().expect("16 planes of C × tiles"));
    for i in 0..images {
        for ch in 0..g.c {
            let image = &x[((n0 + i) * g.c + ch) * g.h * g.w..][..g.h * g.w];
            parity_planes(image, &layout, &mut parity);
            let at = ch * t + i * n;
            let (p0, p1) = parity.split_at(2 * plane_len);
            let (p00, p01) = p0.split_at(plane_len);
            let (p10, p11) = p1.split_at(plane_len);
            let [o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15] =
                &mut planes;
            input_tiles(
                [p00, p01, p10, p11],
                grid.s,
                &mut o0[at..at + n],
                &mut o1[at..at + n],
                &mut o2[at..at + n],
                &mut o3[at..at + n],
                &mut o4[at..at + n],
                &mut o5[at..at + n],
                &mut o6[at..at + n],
                &mut o7[at..at + n],
                &mut o8[at..at + n],
                &mut o9[at..at + n],
                &mut o10[at..at + n],
                &mut o11[at..at + n],
                &mut o12[at..at + n],
                &mut o13[at..at + n],
                &mut o14[at..at + n],
                &mut o15[at..at + n],
            );
        }
    }
}

/// Where a plane's rows and columns go in its parity planes.
#[derive(Clone, Copy)]
struct Padding {
    /// The plane's size.
    h: usize,
    w: usize,
    /// Zeros before its first row and column.
    pad: (usize, usize),
    /// Padded rows the parity planes hold (the plane's rows past them are
    /// not needed; the rows of zeros are never written).
    rows: usize,
    /// Entries per parity-plane row (a padded row has 2s).
    s: usize,
    /// Elements per parity plane.
    plane: usize,
}

/// The plane `image` zero-padded as `p` says, split into its four
/// row/column parity planes `parity` ([row parity][column parity], p.plane
/// each): padded row y, column 2k + q lands at
/// parity[2(y % 2) + q][(y / 2)·s + k]. Only the image's own entries are
/// written, straight from its rows: the padding's places are the same for
/// every plane of a call, so `parity` comes in with zeros there (and keeps
/// them). Copying each row into a padded buffer first cost a call to
/// memmove per row (6% of a `resnet_block` step, for rows of 32).
#[inline(always)]
fn parity_planes_kernel<T: Element>(image: &[T], p: &Padding, parity: &mut [T]) {
    let (s, (ph, pw)) = (p.s, p.pad);
    let half = p.w / 2;
    // Image columns 2k and 2k + 1 sit at padded columns 2k + pw and
    // 2k + pw + 1: for an even pw, entry k + pw/2 of the even and the odd
    // planes; for an odd one, entry k + (pw − 1)/2 of the odd plane and
    // k + (pw + 1)/2 of the even one.
    let (a0, b0) = if pw % 2 == 0 {
        (pw / 2, pw / 2)
    } else {
        ((pw - 1) / 2, pw.div_ceil(2))
    };
    for (iy, src) in image.chunks_exact(p.w).take(p.h).enumerate() {
        let y = iy + ph;
        if y >= p.rows {
            break;
        }
        let at = (y % 2) * 2 * p.plane + (y / 2) * s;
        let (even, odd) = parity[at..].split_at_mut(p.plane);
        let (first, second) = if pw % 2 == 0 {
            (even, odd)
        } else {
            (odd, even)
        };
        let first = &mut first[a0..][..half + p.w % 2];
        let second = &mut second[b0..][..half];
        let pairs = &src[..2 * half];
        for k in 0..half {
            first[k] = pairs[2 * k];
            second[k] = pairs[2 * k + 1];
        }
        if p.w % 2 == 1 {
            first[half] = src[p.w - 1];
        }
    }
}

wide_copies!(fn parity_planes[T: Element](
    image: &[T],
    p: &Padding,
    parity: &mut [T],
) = parity_planes_kernel[T]);

/// The 16 planes' entries (`o0`..`o15`, n each) of an image's tiles from
/// the parity planes `p` ([row parity][column parity], rows of `s`): the
/// tile's entry (r, q) is p[r % 2][q % 2][tile + (r / 2)·s + q / 2]. Down
/// the columns (Bᵀ ·), then along the rows (· B), a tile per iteration (the
/// loop vectorizes: every access is unit-stride, and the outputs are
/// separate arguments, which the compiler knows do not overlap).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn input_tiles_kernel<T: Element>(
    p: [&[T]; 4],
    s: usize,
    o0: &mut [T],
    o1: &mut [T],
    o2: &mut [T],
    o3: &mut [T],
    o4: &mut [T],
    o5: &mut [T],
    o6: &mut [T],
    o7: &mut [T],
    o8: &mut [T],
    o9: &mut [T],
    o10: &mut [T],
    o11: &mut [T],
    o12: &mut [T],
    o13: &mut [T],
    o14: &mut [T],
    o15: &mut [T],
) {
    let n = o0.len();
    // a_rq: entry (r, q) of every tile, a slice over the tiles (each
    // sliced to n here, so the loop below has no bounds checks).
    let entry = |r: usize, q: usize| &p[2 * (r % 2) + q % 2][(r / 2) * s + q / 2..][..n];
    let (a00, a01, a02, a03) = (entry(0, 0), entry(0, 1), entry(0, 2), entry(0, 3));
    let (a10, a11, a12, a13) = (entry(1, 0), entry(1, 1), entry(1, 2), entry(1, 3));
    let (a20, a21, a22, a23) = (entry(2, 0), entry(2, 1), entry(2, 2), entry(2, 3));
    let (a30, a31, a32, a33) = (entry(3, 0), entry(3, 1), entry(3, 2), entry(3, 3));
    let (a00, a01, a02, a03) = (&a00[..n], &a01[..n], &a02[..n], &a03[..n]);
    let (a10, a11, a12, a13) = (&a10[..n], &a11[..n], &a12[..n], &a13[..n]);
    let (a20, a21, a22, a23) = (&a20[..n], &a21[..n], &a22[..n], &a23[..n]);
    let (a30, a31, a32, a33) = (&a30[..n], &a31[..n], &a32[..n], &a33[..n]);
    let (o0, o1, o2, o3) = (&mut o0[..n], &mut o1[..n], &mut o2[..n], &mut o3[..n]);
    let (o4, o5, o6, o7) = (&mut o4[..n], &mut o5[..n], &mut o6[..n], &mut o7[..n]);
    let (o8, o9, o10, o11) = (&mut o8[..n], &mut o9[..n], &mut o10[..n], &mut o11[..n]);
    let (o12, o13, o14, o15) = (&mut o12[..n], &mut o13[..n], &mut o14[..n], &mut o15[..n]);
    for k in 0..n {
        // Column q combined down: (a, b, c, d) ↦ (a − c, b + c, c − b, b − d).
        let down = |a: T, b: T, c: T, d: T| [a - c, b + c, c - b, b - d];
        let c0 = down(a00[k], a10[k], a20[k], a30[k]);
        let c1 = down(a01[k], a11[k], a21[k], a31[k]);
        let c2 = down(a02[k], a12[k], a22[k], a32[k]);
        let c3 = down(a03[k], a13[k], a23[k], a33[k]);
        // Row j along, the same map.
        o0[k] = c0[0] - c2[0];
        o1[k] = c1[0] + c2[0];
        o2[k] = c2[0] - c1[0];
        o3[k] = c1[0] - c3[0];
        o4[k] = c0[1] - c2[1];
        o5[k] = c1[1] + c2[1];
        o6[k] = c2[1] - c1[1];
        o7[k] = c1[1] - c3[1];
        o8[k] = c0[2] - c2[2];
        o9[k] = c1[2] + c2[2];
        o10[k] = c2[2] - c1[2];
        o11[k] = c1[2] - c3[2];
        o12[k] = c0[3] - c2[3];
        o13[k] = c1[3] + c2[3];
        o14[k] = c2[3] - c1[3];
        o15[k] = c1[3] - c3[3];
    }
}

wide_copies!(fn input_tiles[T: Element](
    p: [&[T]; 4],
    s: usize,
    o0: &mut [T],
    o1: &mut [T],
    o2: &mut [T],
    o3: &mut [T],
    o4: &mut [T],
    o5: &mut [T],
    o6: &mut [T],
    o7: &mut [T],
    o8: &mut [T],
    o9: &mut [T],
    o10: &mut [T],
    o11: &mut [T],
    o12: &mut [T],
    o13: &mut [T],
    o14: &mut [T],
    o15: &mut [T],
) = input_tiles_kernel[T]);

/// Y = Aᵀ m A of every tile (+ bias) into the chunk's outputs `part`
/// [images, O, OH, OW], Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]: per image and
/// output channel, [`output_tiles`] over all its tiles into four parity
/// planes, then their rows interleaved into the output's, cut to its size.
pub(super) fn outputs<T: Element>(
    m: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
    grid: Grid,
    images: usize,
    t: usize,
    part: &mut [T],
) {
    let s = grid.s;
    let (o, oh, ow, n) = (g.o, g.oh, g.ow, grid.per_image());
    let mut y = vec![T::ZERO; 4 * n];
    let mut planes = m.chunks_exact(o * t);
    let planes: [&[T]; 16] =
        std::array::from_fn(|_| planes.next().expect("16 planes of O × tiles"));
    for i in 0..images {
        for k in 0..o {
            let shift = bias.map_or(T::ZERO, |b| b[k]);
            let at = k * t + i * n;
            let (y0, y1) = y.split_at_mut(2 * n);
            let (y00, y01) = y0.split_at_mut(n);
            let (y10, y11) = y1.split_at_mut(n);
            output_tiles(planes.map(|p| &p[at..at + n]), shift, y00, y01, y10, y11);
            let out = &mut part[(i * o + k) * oh * ow..][..oh * ow];
            join_planes(&y, s, n, ow, out);
        }
    }
}

/// The output plane `out` (rows of `ow`) from its four parity planes `y`
/// (n each, rows of `s`): row oy, column 2k + q is y[2(oy % 2) + q][(oy /
/// 2)·s + k].
#[inline(always)]
fn join_planes_kernel<T: Element>(y: &[T], s: usize, n: usize, ow: usize, out: &mut [T]) {
    let pairs = ow / 2;
    for (oy, row) in out.chunks_exact_mut(ow).enumerate() {
        let at = (oy % 2) * 2 * n + (oy / 2) * s;
        let (even, odd) = y[at..].split_at(n);
        let (even, odd) = (&even[..ow.div_ceil(2)], &odd[..pairs]);
        let (two, last) = row.split_at_mut(2 * pairs);
        for k in 0..pairs {
            two[2 * k] = even[k];
            two[2 * k + 1] = odd[k];
        }
        if let Some(l) = last.first_mut() {
            *l = even[pairs];
        }
    }
}

wide_copies!(fn join_planes[T: Element](y: &[T], s: usize, n: usize, ow: usize, out: &mut [T]) = join_planes_kernel[T]);

/// The four output parity planes (`y00`: even rows and columns, `y01`: even
/// rows, odd columns, ...; n each, + `shift`) of an image's tiles from the
/// 16 planes' entries: along the rows (· A), then down (Aᵀ ·).
#[inline(always)]
fn output_tiles_kernel<T: Element>(
    m: [&[T]; 16],
    shift: T,
    y00: &mut [T],
    y01: &mut [T],
    y10: &mut [T],
    y11: &mut [T],
) {
    let n = y00.len();
    let [m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15] = m;
    let (m0, m1, m2, m3) = (&m0[..n], &m1[..n], &m2[..n], &m3[..n]);
    let (m4, m5, m6, m7) = (&m4[..n], &m5[..n], &m6[..n], &m7[..n]);
    let (m8, m9, m10, m11) = (&m8[..n], &m9[..n], &m10[..n], &m11[..n]);
    let (m12, m13, m14, m15) = (&m12[..n], &m13[..n], &m14[..n], &m15[..n]);
    let (y00, y01, y10, y11) = (&mut y00[..n], &mut y01[..n], &mut y10[..n], &mut y11[..n]);
    for k in 0..n {
        // Row r along: (a, b, c, d) ↦ (a + b + c, b − c − d).
        let s00 = m0[k] + m1[k] + m2[k];
        let s01 = m1[k] - m2[k] - m3[k];
        let s10 = m4[k] + m5[k] + m6[k];
        let s11 = m5[k] - m6[k] - m7[k];
        let s20 = m8[k] + m9[k] + m10[k];
        let s21 = m9[k] - m10[k] - m11[k];
        let s30 = m12[k] + m13[k] + m14[k];
        let s31 = m13[k] - m14[k] - m15[k];
        y00[k] = s00 + s10 + s20 + shift;
        y01[k] = s01 + s11 + s21 + shift;
        y10[k] = s10 - s20 - s30 + shift;
        y11[k] = s11 - s21 - s31 + shift;
    }
}

wide_copies!(fn output_tiles[T: Element](
    m: [&[T]; 16],
    shift: T,
    y00: &mut [T],
    y01: &mut [T],
    y10: &mut [T],
    y11: &mut [T],
) = output_tiles_kernel[T]);

/// ∂L/∂M = A dY Aᵀ of every tile of the chunk, stored as M is
/// (dM[ξ][o][tile]); per image and output channel, `gy` split into its four
/// row/column parity planes (zero beyond the output), then
/// [`grad_tiles`].
pub(super) fn gradients<T: Element>(
    gy: &[T],
    g: &Geometry,
    grid: Grid,
    n0: usize,
    images: usize,
    t: usize,
    dm: &mut [T],
) {
    let (oh, ow, n) = (g.oh, g.ow, grid.per_image());
    let layout = Padding {
        h: oh,
        w: ow,
        pad: (0, 0),
        rows: 2 * grid.th,
        s: grid.s,
        plane: n,
    };
    let mut parity = vec![T::ZERO; 4 * n];
    let mut planes = dm.chunks_exact_mut(g.o * t);
    let mut planes: [&mut [T]; 16] =
        std::array::from_fn(|_| planes.next().expect("16 planes of O × tiles"));
    for i in 0..images {
        for k in 0..g.o {
            let image = &gy[((n0 + i) * g.o + k) * oh * ow..][..oh * ow];
            parity_planes(image, &layout, &mut parity);
            let at = k * t + i * n;
            let (p0, p1) = parity.split_at(2 * n);
            let (p00, p01) = p0.split_at(n);
            let (p10, p11) = p1.split_at(n);
            let [o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11, o12, o13, o14, o15] =
                &mut planes;
            grad_tiles(
                [p00, p01, p10, p11],
                &mut o0[at..at + n],
                &mut o1[at..at + n],
                &mut o2[at..at + n],
                &mut o3[at..at + n],
                &mut o4[at..at + n],
                &mut o5[at..at + n],
                &mut o6[at..at + n],
                &mut o7[at..at + n],
                &mut o8[at..at + n],
                &mut o9[at..at + n],
                &mut o10[at..at + n],
                &mut o11[at..at + n],
                &mut o12[at..at + n],
                &mut o13[at..at + n],
                &mut o14[at..at + n],
                &mut o15[at..at + n],
            );
        }
    }
}

/// The 16 planes of A dY Aᵀ (`o0`..`o15`, n each) of an image's tiles from
/// dY's parity planes `p` (entry (r, q) of tile f at p[2r + q][f]),
/// A = [[1, 0], [1, 1], [1, −1], [0, −1]]: a row (p, q) of A dY becomes
/// (p, p + q, p − q, −q), and so does each column.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn grad_tiles_kernel<T: Element>(
    p: [&[T]; 4],
    o0: &mut [T],
    o1: &mut [T],
    o2: &mut [T],
    o3: &mut [T],
    o4: &mut [T],
    o5: &mut [T],
    o6: &mut [T],
    o7: &mut [T],
    o8: &mut [T],
    o9: &mut [T],
    o10: &mut [T],
    o11: &mut [T],
    o12: &mut [T],
    o13: &mut [T],
    o14: &mut [T],
    o15: &mut [T],
) {
    let n = o0.len();
    let [a, b, c, d] = p;
    let (a, b, c, d) = (&a[..n], &b[..n], &c[..n], &d[..n]);
    let (o0, o1, o2, o3) = (&mut o0[..n], &mut o1[..n], &mut o2[..n], &mut o3[..n]);
    let (o4, o5, o6, o7) = (&mut o4[..n], &mut o5[..n], &mut o6[..n], &mut o7[..n]);
    let (o8, o9, o10, o11) = (&mut o8[..n], &mut o9[..n], &mut o10[..n], &mut o11[..n]);
    let (o12, o13, o14, o15) = (&mut o12[..n], &mut o13[..n], &mut o14[..n], &mut o15[..n]);
    for k in 0..n {
        // A dY: rows (a, b), (a + c, b + d), (a − c, b − d), (−c, −d).
        let rows = [
            (a[k], b[k]),
            (a[k] + c[k], b[k] + d[k]),
            (a[k] - c[k], b[k] - d[k]),
            (-c[k], -d[k]),
        ];
        let along = |(p, q): (T, T)| [p, p + q, p - q, -q];
        let [r0, r1, r2, r3] = rows.map(along);
        o0[k] = r0[0];
        o1[k] = r0[1];
        o2[k] = r0[2];
        o3[k] = r0[3];
        o4[k] = r1[0];
        o5[k] = r1[1];
        o6[k] = r1[2];
        o7[k] = r1[3];
        o8[k] = r2[0];
        o9[k] = r2[1];
        o10[k] = r2[2];
        o11[k] = r2[3];
        o12[k] = r3[0];
        o13[k] = r3[1];
        o14[k] = r3[2];
        o15[k] = r3[3];
    }
}

wide_copies!(fn grad_tiles[T: Element](
    p: [&[T]; 4],
    o0: &mut [T],
    o1: &mut [T],
    o2: &mut [T],
    o3: &mut [T],
    o4: &mut [T],
    o5: &mut [T],
    o6: &mut [T],
    o7: &mut [T],
    o8: &mut [T],
    o9: &mut [T],
    o10: &mut [T],
    o11: &mut [T],
    o12: &mut [T],
    o13: &mut [T],
    o14: &mut [T],
    o15: &mut [T],
) = grad_tiles_kernel[T]);
