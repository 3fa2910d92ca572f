//! Large buffers reused from one training step to the next.
//!
//! A step of a wide model makes the same large temporaries every time (a
//! 4096×4096 layer's weight gradient is 64 MB). From the system allocator
//! each is fresh memory: glibc maps blocks of more than 32 MB anew and hands
//! the pages back on free, so every step pays a page fault per 4 KB page
//! written, which on a VM costs more than the writes (`wide_mlp`, 1 thread:
//! 140 MB of first-touched pages per step, 81% of the faults inside GEMM
//! writing weight gradients). Here a dropped tensor's storage of at least
//! [`MIN_BYTES`] is kept and handed out again for a request of the same
//! length: zero-filled by [`zeroed`] (outputs that are accumulated into),
//! as it was left by [`overwritten`] (outputs whose every element is
//! written before it is read), emptied by [`with_capacity`] (outputs
//! collected or pushed into a vector).
//!
//! Results do not depend on the pool: what a caller reads is zeros or what
//! it wrote itself, exactly as with a fresh buffer. It holds at most [`MAX_BYTES`] in total (the
//! oldest buffers are freed to make room), so memory stays bounded.

use std::sync::Mutex;

use super::element::Element;
use super::storage::{HasStorage, Storage};

/// Buffers smaller than this are left to the allocator (which reuses them
/// well already).
pub(crate) const MIN_BYTES: usize = 1 << 20;

/// The most bytes the pool holds.
pub(crate) const MAX_BYTES: usize = 512 << 20;

/// The most buffers the pool holds (a step's large temporaries).
const MAX_BUFFERS: usize = 32;

struct Pool {
    buffers: Vec<Storage>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    buffers: Vec::new(),
    bytes: 0,
});

fn bytes_of(s: &Storage) -> usize {
    match s {
        Storage::F32(v) => v.capacity() * 4,
        Storage::F64(v) => v.capacity() * 8,
    }
}

/// A vector of `n` zeros: a pooled buffer of that length if there is one,
/// else a fresh allocation.
pub(crate) fn zeroed<T: Element + HasStorage>(n: usize) -> Vec<T> {
    if n * std::mem::size_of::<T>() >= MIN_BYTES {
        if let Some(mut v) = take::<T>(n) {
            v.clear();
            v.resize(n, T::ZERO);
            return v;
        }
    }
    vec![T::ZERO; n]
}

/// A vector of `n` elements for an output that is written in full before it
/// is read: a pooled buffer of that length as it was left (its old values
/// are overwritten, so nothing depends on them), else zeros.
pub(crate) fn overwritten<T: Element + HasStorage>(n: usize) -> Vec<T> {
    if n * std::mem::size_of::<T>() >= MIN_BYTES {
        if let Some(v) = take::<T>(n) {
            return v;
        }
    }
    vec![T::ZERO; n]
}

/// An empty vector with room for `n` elements, for an output pushed or
/// collected into it (`collect_into_vec`, `extend`): when `U` is `f32` or
/// `f64`, a pooled buffer of that length emptied, else a fresh allocation.
/// Elementwise maps, broadcasts and copies of a convolutional network's
/// activations (8 MB each in `resnet_block`) would otherwise fault in fresh
/// pages every step.
pub(crate) fn with_capacity<U: 'static>(n: usize) -> Vec<U> {
    use std::any::{Any, TypeId};
    if n * std::mem::size_of::<U>() >= MIN_BYTES {
        let pooled: Option<Box<dyn Any>> = if TypeId::of::<U>() == TypeId::of::<f32>() {
            take::<f32>(n).map(|v| Box::new(v) as Box<dyn Any>)
        } else if TypeId::of::<U>() == TypeId::of::<f64>() {
            take::<f64>(n).map(|v| Box::new(v) as Box<dyn Any>)
        } else {
            None
        };
        if let Some(Ok(mut v)) = pooled.map(|b| b.downcast::<Vec<U>>()) {
            v.clear();
            return *v;
        }
    }
    Vec::with_capacity(n)
}

/// The pooled buffer of `T` whose length is `n`, if any.
fn take<T: HasStorage>(n: usize) -> Option<Vec<T>> {
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    let at = pool
        .buffers
        .iter()
        .rposition(|s| s.len() == n && s.dtype() == T::DTYPE)?;
    let s = pool.buffers.remove(at);
    pool.bytes -= bytes_of(&s);
    T::unwrap(s)
}

/// Moves a large storage into the pool (leaving an empty one), when there is
/// room: a dropped tensor's buffer.
pub(crate) fn recycle(s: &mut Storage) {
    if bytes_of(s) >= MIN_BYTES {
        give(std::mem::replace(s, Storage::F32(Vec::new())));
    }
}

/// Keeps `s` for a later [`zeroed`] if it is large, freeing the oldest
/// pooled buffers when the pool would exceed its bounds.
pub(crate) fn give(s: Storage) {
    let bytes = bytes_of(&s);
    if !(MIN_BYTES..=MAX_BYTES).contains(&bytes) {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    // The oldest buffers make room: a step's tensors that no request takes
    // (more are dropped than taken) must not crowd out the ones that are.
    while pool.bytes + bytes > MAX_BYTES || pool.buffers.len() >= MAX_BUFFERS {
        let old = pool.buffers.remove(0);
        pool.bytes -= bytes_of(&old);
    }
    pool.bytes += bytes;
    pool.buffers.push(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pooled_buffer_comes_back_zeroed_and_small_ones_are_not_kept() {
        let n = MIN_BYTES / 4 + 3;
        let mut v: Vec<f32> = zeroed(n);
        v.iter_mut().for_each(|x| *x = 7.0);
        give(Storage::F32(v));
        let w: Vec<f32> = zeroed(n);
        // Another test may have taken it first; when it is ours, it is zeroed.
        assert_eq!(w.len(), n);
        assert!(w.iter().all(|&x| x == 0.0));
        give(Storage::F32(vec![1.0; 16]));
        assert!(POOL
            .lock()
            .unwrap()
            .buffers
            .iter()
            .all(|s| bytes_of(s) >= MIN_BYTES));
        // A request of another dtype does not take an f32 buffer.
        give(Storage::F32(w));
        let d: Vec<f64> = zeroed(n);
        assert_eq!(d.len(), n);
    }

    #[test]
    fn outputs_written_in_full_take_pooled_buffers_of_their_type() {
        let n = MIN_BYTES / 8 + 5;
        give(Storage::F64(vec![3.0; n]));
        // Another test may take it first: then these are fresh, which is
        // what they must look like anyway.
        let v: Vec<f64> = with_capacity(n);
        assert!(v.is_empty() && v.capacity() >= n);
        let w: Vec<f64> = overwritten(n);
        assert_eq!(w.len(), n);
        // Not a float: never from the pool.
        let u: Vec<u64> = with_capacity(n);
        assert!(u.is_empty() && u.capacity() >= n);
        // Small requests are left to the allocator.
        let s: Vec<f32> = with_capacity(16);
        assert!(s.is_empty() && s.capacity() >= 16);
    }
}
