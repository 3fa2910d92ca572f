//! 2-D convolution (and 1-D through it) by im2col, a chunk of images at a
//! time: each chunk's patches form one matrix per group in a buffer its
//! worker reuses, so each direction is one GEMM per chunk; col2im sends
//! gradients back. Parallel over chunks (or, for a batch that is one chunk,
//! inside its GEMMs). 3×3 stride-1 convolutions with enough channels (the
//! forward, the input gradient as the convolution of the output gradient,
//! and the weight gradient) go through Winograd's F(2×2, 3×3) instead
//! ([`super::winograd`]), unless the patches are kept for the backward.

use std::sync::Mutex;

use crate::autograd::{Backward, GradSink};
use crate::tensor::storage::{HasStorage, Storage};
use crate::tensor::{Element, Tensor};

use super::chunks::{chunks, Scratch};
use super::matmul::gemm;
use super::patches::{col2im, im2col, Conv2dConfig, Geometry};

/// The convolution of `x` by `w` (+ `bias`), and, if `keep` (one group
/// only), each chunk's patch matrix in chunk order.
fn forward<T: Element + HasStorage>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
    keep: bool,
) -> (Vec<T>, Vec<Vec<T>>) {
    let (k, l, og) = (g.k(), g.l(), g.o / g.cfg.groups);
    let b = g.chunk;
    let keep = keep && g.cfg.groups == 1;
    if !keep && super::winograd::applies(g) {
        return (super::winograd::conv3x3(x, w, bias, g), Vec::new());
    }
    let mut out = crate::tensor::pool::zeroed::<T>(g.n * g.o * l);
    let patches = chunks(&mut out, g.o * l, b, |chunk, part, scratch, parallel| {
        let images = part.len() / (g.o * l).max(1);
        let (cols, y) = scratch.buffers(k, og, images * l);
        // One image, one group: the product [O, L] is the image's output.
        let direct = images == 1 && g.cfg.groups == 1;
        for group in 0..g.cfg.groups {
            im2col(x, g, group, chunk * b, cols, parallel);
            let wg = &w[group * og * k..(group + 1) * og * k];
            let dst: &mut [T] = if direct { part } else { y };
            gemm(
                parallel,
                og,
                images * l,
                k,
                wg,
                false,
                cols,
                false,
                dst,
                false,
            );
            if direct {
                if let Some(bias) = bias {
                    for (row, &shift) in part.chunks_mut(l).zip(bias) {
                        row.iter_mut().for_each(|d| *d += shift);
                    }
                }
                break;
            }
            // [Og, b·L] → out[n, group·Og + o, l] (+ bias)
            for (n, on) in part.chunks_mut(g.o * l).enumerate() {
                for o in 0..og {
                    let oc = group * og + o;
                    let shift = bias.map_or(T::ZERO, |b| b[oc]);
                    let src = &y[o * images * l + n * l..o * images * l + (n + 1) * l];
                    for (d, &s) in on[oc * l..(oc + 1) * l].iter_mut().zip(src) {
                        *d = s + shift;
                    }
                }
            }
        }
        // The chunk's patches leave with it (the next chunk allocates).
        keep.then(|| scratch.take_cols())
    });
    (out, patches.into_iter().flatten().collect())
}

/// [`forward`] as storages: the output, and its chunks' patch matrices if `keep`.
fn run_forward<T: Element + HasStorage>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
    keep: bool,
) -> (Storage, Vec<Storage>) {
    let (out, patches) = forward(x, w, bias, g, keep);
    (T::wrap(out), patches.into_iter().map(T::wrap).collect())
}

struct Conv2d {
    g: Geometry,
    has_bias: bool,
    /// The forward's patch matrices (one per chunk), kept for the weight
    /// gradient when they are small ([`Geometry::keeps_patches`]); taken by
    /// backward.
    patches: Mutex<Vec<Storage>>,
}

impl Conv2d {
    /// The input and weight gradients of the chunk of images from `n0`
    /// (`images` of them): `dx` (their rows of the input gradient) gets
    /// col2im(Wᵀ·G), and the weight gradient's share Σ G·colsᵀ of this
    /// chunk is returned (per group, O/groups × K each).
    #[allow(clippy::too_many_arguments)]
    fn chunk_grads<T: Element>(
        &self,
        x: &[T],
        w: &[T],
        gy: &[T],
        n0: usize,
        images: usize,
        dx: Option<&mut [T]>,
        want_dw: bool,
        scratch: &mut Scratch<T>,
        patches: Option<&[T]>,
        parallel: bool,
    ) -> Vec<T> {
        let g = &self.g;
        let (k, l, og) = (g.k(), g.l(), g.o / g.cfg.groups);
        let cols_n = images * l;
        let mut dw = vec![T::ZERO; if want_dw { g.o * k } else { 0 }];
        let mut dx = dx;
        let mut dwt = Vec::new();
        // The patch buffer is needed for dcols, or for patches not kept; a
        // kept-patches weight gradient alone (LeNet's first layer) needs none.
        let needs_cols = dx.is_some() || (want_dw && patches.is_none());
        let (cols, gather) = scratch.buffers(if needs_cols { k } else { 0 }, og, cols_n);
        for group in 0..g.cfg.groups {
            // G_g [Og, b·L] for these images: for one image and one group,
            // the image's rows of gy as they are.
            let gg: &[T] = if images == 1 && g.cfg.groups == 1 {
                &gy[n0 * g.o * l..(n0 + 1) * g.o * l]
            } else {
                for (o, row) in gather.chunks_mut(cols_n).enumerate() {
                    let oc = group * og + o;
                    for (i, dst) in row.chunks_mut(l).enumerate() {
                        let n = n0 + i;
                        dst.copy_from_slice(&gy[(n * g.o + oc) * l..(n * g.o + oc + 1) * l]);
                    }
                }
                gather
            };
            if want_dw {
                // dW_gᵀ = cols · G_gᵀ over this chunk's columns, then
                // transposed: the same product with the long b·L axis on the
                // row-major left operand runs 1.3-5× faster in gemm than
                // G_g · colsᵀ (150×16×4096: 176 µs vs 960 µs).
                let src: &[T] = match patches {
                    Some(p) => {
                        debug_assert_eq!(
                            p.len(),
                            k * cols_n,
                            "conv2d: kept patches of another chunk"
                        );
                        p
                    }
                    None => {
                        im2col(x, g, group, n0, cols, parallel);
                        cols
                    }
                };
                dwt.resize(k * og, T::ZERO);
                gemm(
                    parallel, k, og, cols_n, src, false, gg, true, &mut dwt, false,
                );
                let dwg = &mut dw[group * og * k..(group + 1) * og * k];
                for (o, row) in dwg.chunks_mut(k).enumerate() {
                    for (kk, d) in row.iter_mut().enumerate() {
                        *d = dwt[kk * og + o];
                    }
                }
            }
            if let Some(dx) = dx.as_deref_mut() {
                // dcols = W_gᵀ · G_g, then col2im (cols is free again).
                let wg = &w[group * og * k..(group + 1) * og * k];
                gemm(parallel, k, cols_n, og, wg, true, gg, false, cols, false);
                col2im(cols, g, group, dx, parallel);
            }
        }
        dw
    }

    fn grads<T: Element + HasStorage>(
        &self,
        x: &[T],
        w: &[T],
        gy: &[T],
        sink: &mut GradSink,
        inputs: &[Tensor],
    ) {
        let g = &self.g;
        let l = g.l();
        let b = g.chunk;
        // 3×3 stride-1 weight gradients in Winograd's domain (the
        // forward's patches are not kept for them).
        let winograd_dw = sink.wants(1) && super::winograd::applies(g) && !g.keeps_patches();
        let want_dw = sink.wants(1) && !winograd_dw;
        let image = g.c * g.h * g.w;
        // Stride 1: the input gradient as a convolution of gy, apart from
        // the weight gradient.
        let transposed = sink.wants(0).then(|| g.transposed()).flatten();
        let mut dx = match &transposed {
            Some(gt) => Some(forward(gy, &g.flipped(w), None, gt, false).0),
            None => sink.wants(0).then(|| vec![T::ZERO; x.len()]),
        };
        // The forward's patches, when it kept them, one matrix per chunk.
        let kept: Vec<Vec<T>> =
            std::mem::take(&mut *self.patches.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .filter_map(T::unwrap)
                .collect();
        let patches = |c: usize| kept.get(c).map(|p| &p[..]);
        let partials: Vec<Vec<T>> = match dx.as_mut().filter(|_| transposed.is_none()) {
            Some(dx) => chunks(dx, image, b, |c, part, scratch, parallel| {
                let images = part.len() / image.max(1);
                self.chunk_grads(
                    x,
                    w,
                    gy,
                    c * b,
                    images,
                    Some(part),
                    want_dw,
                    scratch,
                    patches(c),
                    parallel,
                )
            }),
            None if want_dw => {
                // No input gradient: chunk over the output gradient's images instead.
                let mut marks = vec![T::ZERO; g.n];
                chunks(&mut marks, 1, b, |c, part, scratch, parallel| {
                    self.chunk_grads(
                        x,
                        w,
                        gy,
                        c * b,
                        part.len(),
                        None,
                        true,
                        scratch,
                        patches(c),
                        parallel,
                    )
                })
            }
            None => Vec::new(),
        };
        if let Some(dx) = dx {
            sink.add(
                0,
                Tensor::from_storage(T::wrap(dx), inputs[0].shape().to_vec()),
            );
        }
        if winograd_dw {
            sink.add(
                1,
                Tensor::from_storage(
                    T::wrap(super::winograd::weight_grad(x, gy, g)),
                    inputs[1].shape().to_vec(),
                ),
            );
        }
        if want_dw {
            // The chunks' shares added in chunk order: the same bits whatever
            // the number of threads.
            let mut dw = vec![T::ZERO; w.len()];
            for p in &partials {
                dw.iter_mut().zip(p).for_each(|(d, &v)| *d += v);
            }
            sink.add(
                1,
                Tensor::from_storage(T::wrap(dw), inputs[1].shape().to_vec()),
            );
        }
        if self.has_bias && sink.wants(2) {
            let mut db = vec![T::ZERO; g.o];
            for n in 0..g.n {
                for (o, d) in db.iter_mut().enumerate() {
                    *d += super::reduce::sum_slice(&gy[(n * g.o + o) * l..(n * g.o + o + 1) * l]);
                }
            }
            sink.add(2, Tensor::from_storage(T::wrap(db), vec![g.o]));
        }
    }
}

impl Backward for Conv2d {
    fn name(&self) -> &'static str {
        "conv2d"
    }
    // Y = W·cols(X) + b:  dW = dY·cols(X)ᵀ,  dX = col2im(Wᵀ·dY),  db = Σ dY
    fn backward(&self, inputs: &[Tensor], _out: &Tensor, grad: &Tensor, sink: &mut GradSink) {
        let (xs, ws, gs) = (
            inputs[0].read_storage(),
            inputs[1].read_storage(),
            grad.read_storage(),
        );
        match (&*xs, &*ws, &*gs) {
            (Storage::F32(x), Storage::F32(w), Storage::F32(g)) => {
                self.grads(x, w, g, sink, inputs)
            }
            (Storage::F64(x), Storage::F64(w), Storage::F64(g)) => {
                self.grads(x, w, g, sink, inputs)
            }
            _ => unreachable!("conv2d operands share a dtype"),
        }
    }
}

/// 2-D convolution (cross-correlation, as in PyTorch): x [N, C, H, W],
/// weight [O, C/groups, kH, kW], bias `[O]`; the output is [N, O, OH, OW] with
/// OH = ⌊(H + 2p − d(kH − 1) − 1)/s⌋ + 1.
///
/// Computed by im2col and GEMM. 3×3, stride-1, dilation-1, single-group
/// convolutions with at least 16 input and output channels go through
/// Winograd's F(2×2, 3×3) instead (2.25× fewer multiplications), in the
/// forward and both gradients, except where a training forward keeps its
/// patch matrix (at most 1M elements) for the weight gradient: the same
/// values to rounding, as PyTorch's own convolution algorithms differ from one
/// another. Either way the bits do not depend on the number of threads.
///
/// **Panics** naming the shapes if the channels or groups do not fit.
///
/// ```
/// use downhill::ops::{conv2d, Conv2dConfig};
/// use downhill::Tensor;
/// let x = Tensor::ones(&[1, 1, 4, 4]);
/// let w = Tensor::ones(&[1, 1, 3, 3]);
/// let y = conv2d(&x, &w, None, Conv2dConfig { padding: (1, 1), ..Default::default() });
/// assert_eq!(y.shape(), &[1, 1, 4, 4]);
/// assert_eq!(y.to_vec_f64()[0], 4.0); // a corner sees 4 ones
/// ```
#[track_caller]
pub fn conv2d(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>, cfg: Conv2dConfig) -> Tensor {
    assert!(
        x.ndim() == 4 && weight.ndim() == 4,
        "conv2d: input shape {:?} and weight shape {:?} must both be 4-D",
        x.shape(),
        weight.shape()
    );
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let (o, cg, kh, kw) = (
        weight.shape()[0],
        weight.shape()[1],
        weight.shape()[2],
        weight.shape()[3],
    );
    assert!(
        cfg.groups > 0 && c == cg * cfg.groups && o % cfg.groups == 0,
        "conv2d: input shape {:?} and weight shape {:?} do not fit with groups = {}",
        x.shape(),
        weight.shape(),
        cfg.groups
    );
    assert!(
        cfg.stride.0 > 0 && cfg.stride.1 > 0 && cfg.dilation.0 > 0 && cfg.dilation.1 > 0,
        "conv2d: stride and dilation must be positive"
    );
    if let Some(b) = bias {
        assert_eq!(
            b.shape(),
            [o],
            "conv2d: bias shape {:?} does not match weight shape {:?}",
            b.shape(),
            weight.shape()
        );
    }
    let g = Geometry::new((n, c, h, w), (o, cg, kh, kw), cfg);
    let (oh, ow) = (g.oh, g.ow);
    assert!(
        oh > 0 && ow > 0,
        "conv2d: input shape {:?} is smaller than the kernel {:?} (with padding/dilation)",
        x.shape(),
        weight.shape()
    );
    // Keep the patches for the weight gradient when backward will want them
    // and they are one chunk's matrix (at most CHUNK_ELEMENTS).
    let keep = g.keeps_patches() && crate::autograd::is_grad_enabled() && weight.requires_grad();
    let (s, patches) = {
        let (xs, ws) = (x.read_storage(), weight.read_storage());
        let bs = bias.map(|b| b.read_storage());
        match (&*xs, &*ws, bs.as_deref()) {
            (Storage::F32(xv), Storage::F32(wv), None) => run_forward(xv, wv, None, &g, keep),
            (Storage::F32(xv), Storage::F32(wv), Some(Storage::F32(bv))) => {
                run_forward(xv, wv, Some(bv), &g, keep)
            }
            (Storage::F64(xv), Storage::F64(wv), None) => run_forward(xv, wv, None, &g, keep),
            (Storage::F64(xv), Storage::F64(wv), Some(Storage::F64(bv))) => {
                run_forward(xv, wv, Some(bv), &g, keep)
            }
            _ => panic!(
                "conv2d: dtypes differ (input {}, weight {})",
                xs.dtype(),
                ws.dtype()
            ),
        }
    };
    let op = Conv2d {
        g,
        has_bias: bias.is_some(),
        patches: Mutex::new(patches),
    };
    match bias {
        Some(b) => Tensor::from_op(s, vec![n, o, oh, ow], &[x, weight, b], op),
        None => Tensor::from_op(s, vec![n, o, oh, ow], &[x, weight], op),
    }
}

/// 1-D convolution: x [N, C, L], weight [O, C/groups, K], bias `[O]`, with
/// scalar stride, padding, dilation; computed as a 2-D convolution of height 1.
///
/// **Panics** naming the shapes if they do not fit.
///
/// ```
/// use downhill::ops::conv1d;
/// use downhill::Tensor;
/// let y = conv1d(&Tensor::ones(&[2, 3, 10]), &Tensor::ones(&[4, 3, 3]), None, 1, 0, 1, 1);
/// assert_eq!(y.shape(), &[2, 4, 8]);
/// ```
#[track_caller]
#[allow(clippy::too_many_arguments)]
pub fn conv1d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Tensor {
    assert!(
        x.ndim() == 3 && weight.ndim() == 3,
        "conv1d: input shape {:?} and weight shape {:?} must both be 3-D",
        x.shape(),
        weight.shape()
    );
    let cfg = Conv2dConfig {
        stride: (1, stride),
        padding: (0, padding),
        dilation: (1, dilation),
        groups,
    };
    let y = conv2d(&x.unsqueeze(2), &weight.unsqueeze(2), bias, cfg);
    y.squeeze(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Generator;

    /// y = conv(x, w) + b by direct loops, and the gradients of Σ gy·y with
    /// respect to x and w.
    fn direct(x: &[f64], w: &[f64], b: &[f64], gy: &[f64], g: &Geometry) -> [Vec<f64>; 3] {
        let (og, cfg) = (g.o / g.cfg.groups, g.cfg);
        let mut y = vec![0.0; g.n * g.o * g.l()];
        let (mut dx, mut dw) = (vec![0.0; x.len()], vec![0.0; w.len()]);
        for n in 0..g.n {
            for (o, &bias) in b.iter().enumerate() {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let at = ((n * g.o + o) * g.oh + oy) * g.ow + ox;
                        y[at] = bias;
                        for cl in 0..g.cg {
                            let c = (o / og) * g.cg + cl;
                            for i in 0..g.kh {
                                for j in 0..g.kw {
                                    let iy = (oy * cfg.stride.0 + i * cfg.dilation.0) as isize
                                        - cfg.padding.0 as isize;
                                    let ix = (ox * cfg.stride.1 + j * cfg.dilation.1) as isize
                                        - cfg.padding.1 as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let xi =
                                        ((n * g.c + c) * g.h + iy as usize) * g.w + ix as usize;
                                    let wi = ((o * g.cg + cl) * g.kh + i) * g.kw + j;
                                    y[at] += x[xi] * w[wi];
                                    dx[xi] += gy[at] * w[wi];
                                    dw[wi] += gy[at] * x[xi];
                                }
                            }
                        }
                    }
                }
            }
        }
        [y, dx, dw]
    }

    fn assert_close(what: &str, got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (i, (a, b)) in got.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                "{what}[{i}]: {a} vs {b}"
            );
        }
    }

    /// Every chunk size (one image, an uneven split, the whole batch) gives
    /// the direct loops' output and gradients, with stride, padding,
    /// dilation and groups, on one thread and in parallel.
    #[test]
    fn chunks_of_any_size_give_the_direct_convolution() {
        for groups in [1, 2] {
            chunks_of_any_size_with(groups);
        }
    }

    /// One image per chunk and one group writes the product straight into
    /// the output (and reads gy as it is); the others go through buffers.
    fn chunks_of_any_size_with(groups: usize) {
        let cfg = Conv2dConfig {
            stride: (2, 1),
            padding: (1, 2),
            dilation: (1, 2),
            groups,
        };
        let (n, c, h, w, o, kh, kw) = (5, 4, 7, 9, 6, 3, 2);
        let batch = Geometry::new((n, c, h, w), (o, c / groups, kh, kw), cfg);
        let mut gen = Generator::new(3);
        let mut draw = |len: usize| Tensor::randn(&[len], &mut gen).to_vec_f64();
        let x = draw(n * c * h * w);
        let wt = draw(o * (c / groups) * kh * kw);
        let b = draw(o);
        let gy = draw(n * o * batch.l());
        for chunk in [1, 2, 3, 5] {
            let g = Geometry { chunk, ..batch };
            let [y, dx_want, dw_want] = direct(&x, &wt, &b, &gy, &g);
            assert_close("y", &forward(&x, &wt, Some(&b), &g, false).0, &y);
            let op = Conv2d {
                g,
                has_bias: true,
                patches: Mutex::new(Vec::new()),
            };
            let image = c * h * w;
            let mut dx = vec![0.0; x.len()];
            let mut dw = vec![0.0; wt.len()];
            for (k, part) in dx.chunks_mut(chunk * image).enumerate() {
                let images = part.len() / image;
                let mut scratch = Scratch::new();
                let share = op.chunk_grads(
                    &x,
                    &wt,
                    &gy,
                    k * chunk,
                    images,
                    Some(part),
                    true,
                    &mut scratch,
                    None,
                    k % 2 == 0,
                );
                dw.iter_mut().zip(&share).for_each(|(d, v)| *d += v);
            }
            assert_close("dx", &dx, &dx_want);
            assert_close("dw", &dw, &dw_want);
        }
    }

    /// A batch that is one chunk keeps the forward's patches for the weight
    /// gradient: the gradients are the bits of recomputing them.
    #[test]
    fn kept_patches_give_the_bits_of_recomputed_ones() {
        let cfg = Conv2dConfig {
            stride: (2, 1),
            padding: (1, 2),
            dilation: (1, 2),
            groups: 1,
        };
        let (n, c, h, w, o, kh, kw) = (7, 2, 7, 9, 4, 3, 2);
        let mut gen = Generator::new(7);
        let x = Tensor::randn(&[n, c, h, w], &mut gen)
            .to_dtype(crate::DType::F64)
            .requires_grad_(true);
        let wt = Tensor::randn(&[o, c, kh, kw], &mut gen)
            .to_dtype(crate::DType::F64)
            .requires_grad_(true);
        let g = Geometry::new((n, c, h, w), (o, c, kh, kw), cfg);
        assert!(g.keeps_patches() && g.chunk < n);
        let gy = Tensor::randn(&[n * o * g.l()], &mut gen).to_vec_f64();
        let y = conv2d(&x, &wt, None, cfg);
        let grads = y.backward_with(&Tensor::from_vec(gy.clone(), y.shape()));
        let op = Conv2d {
            g,
            has_bias: false,
            patches: Mutex::new(Vec::new()),
        };
        let (xv, wv) = (x.to_vec_f64(), wt.to_vec_f64());
        let mut dx = vec![0.0; xv.len()];
        let mut dw = vec![0.0; wv.len()];
        // The chunks' shares recomputed from x, added in chunk order.
        for (k, part) in dx.chunks_mut(g.chunk * c * h * w).enumerate() {
            let images = part.len() / (c * h * w);
            let share = op.chunk_grads(
                &xv,
                &wv,
                &gy,
                k * g.chunk,
                images,
                Some(part),
                true,
                &mut Scratch::new(),
                None,
                false,
            );
            dw.iter_mut().zip(&share).for_each(|(d, v)| *d += v);
        }
        assert_eq!(grads.get(&wt).unwrap().to_vec_f64(), dw);
        assert_eq!(grads.get(&x).unwrap().to_vec_f64(), dx);
    }

    /// Stride 1 with padding up to the kernel's reach: the input gradient,
    /// computed as a convolution of the output gradient, and the weight
    /// gradient match the direct loops (through `conv2d` and `backward`).
    #[test]
    fn stride_one_input_gradients_as_a_convolution_match_the_direct_loops() {
        let (n, c, h, w, o, kh, kw) = (3, 4, 6, 7, 6, 3, 2);
        let mut gen = Generator::new(5);
        // "Same" padding (kernel 3×2: reach 2·d and d), and more than that.
        for (padding, dilation, groups) in [
            ((1, 1), (1, 1), 1),
            ((2, 1), (2, 1), 2),
            ((2, 1), (1, 1), 1),
        ] {
            let cfg = Conv2dConfig {
                stride: (1, 1),
                padding,
                dilation,
                groups,
            };
            let cg = c / groups;
            let g = Geometry::new((n, c, h, w), (o, cg, kh, kw), cfg);
            let (oh, ow) = (g.oh, g.ow);
            assert!(g.transposed().is_some(), "{cfg:?}");
            let mut draw =
                |shape: &[usize]| Tensor::randn(shape, &mut gen).to_dtype(crate::DType::F64);
            let (x, wt, b) = (draw(&[n, c, h, w]), draw(&[o, cg, kh, kw]), draw(&[o]));
            let gy = draw(&[n, o, oh, ow]);
            let [_, dx_want, dw_want] = direct(
                &x.to_vec_f64(),
                &wt.to_vec_f64(),
                &b.to_vec_f64(),
                &gy.to_vec_f64(),
                &g,
            );
            let (x, wt) = (x.requires_grad_(true), wt.requires_grad_(true));
            let y = conv2d(&x, &wt, Some(&b), cfg);
            let grads = (&y * &gy).sum().backward();
            assert_close("dx", &grads.get(&x).unwrap().to_vec_f64(), &dx_want);
            assert_close("dw", &grads.get(&wt).unwrap().to_vec_f64(), &dw_want);
        }
        let same = Conv2dConfig {
            padding: (1, 1),
            ..Conv2dConfig::default()
        };
        let base = Geometry::new((n, c, h, w), (o, c, kh, kw), same);
        assert!(base.transposed().is_some());
        let strided = Geometry {
            cfg: Conv2dConfig {
                stride: (2, 1),
                ..base.cfg
            },
            ..base
        };
        let padded = Geometry {
            cfg: Conv2dConfig {
                padding: (0, 2),
                ..Conv2dConfig::default()
            },
            ..base
        };
        let shrinking = Geometry {
            oh: h - 2,
            ow: w - 1,
            ..base
        };
        assert!(strided.transposed().is_none() && padded.transposed().is_none());
        assert!(shrinking.transposed().is_none());
    }
}
