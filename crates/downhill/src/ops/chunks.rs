//! A batch of images cut into chunks, each worked on with buffers its
//! worker reuses: the driver of both convolution algorithms (im2col in
//! [`super::conv`], Winograd's in [`super::winograd`]).

use rayon::prelude::*;

use crate::tensor::Element;

/// Buffers of one worker, reused from chunk to chunk.
pub(super) struct Scratch<T> {
    cols: Vec<T>,
    y: Vec<T>,
}

impl<T: Element> Scratch<T> {
    pub(super) fn new() -> Self {
        Scratch {
            cols: Vec::new(),
            y: Vec::new(),
        }
    }

    /// The patch buffer, taken out (to be kept); the next chunk starts a
    /// new one.
    pub(super) fn take_cols(&mut self) -> Vec<T> {
        std::mem::take(&mut self.cols)
    }

    /// The patch buffer (`k × cols`) and the product buffer (`m × cols`).
    pub(super) fn buffers(&mut self, k: usize, m: usize, cols: usize) -> (&mut [T], &mut [T]) {
        self.cols.resize(k * cols, T::ZERO);
        self.y.resize(m * cols, T::ZERO);
        (&mut self.cols[..k * cols], &mut self.y[..m * cols])
    }
}

/// Runs `task(chunk, slice)` on each chunk of `b` images and its `per_image`
/// elements of `data`, with a worker's [`Scratch`]: the chunks in parallel
/// (each GEMM on one thread) when there are several, else the one chunk's
/// GEMMs use the threads. Returns the tasks' results in chunk order.
pub(super) fn chunks<T: Element, R: Send>(
    data: &mut [T],
    per_image: usize,
    b: usize,
    task: impl Fn(usize, &mut [T], &mut Scratch<T>, bool) -> R + Sync,
) -> Vec<R> {
    let size = (b * per_image).max(1);
    if data.len() <= size {
        return vec![task(0, data, &mut Scratch::new(), true)];
    }
    data.par_chunks_mut(size)
        .enumerate()
        .map_init(Scratch::new, |scratch, (c, part)| {
            task(c, part, scratch, false)
        })
        .collect()
}
