//! A counting allocator around a training step (784-256-10 MLP, batch 64,
//! cross-entropy, Adam): after warm-up every step makes the same number of
//! allocations and the live heap does not grow with the number of steps.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(l.size() as isize, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(l.size() as isize, Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE.fetch_add(new as isize - l.size() as isize, Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

use downhill::loss::{CrossEntropyLoss, Loss};
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::{Adam, Optimizer};
use downhill::{Generator, Tensor};

#[test]
fn steps_allocate_a_constant_amount_and_the_heap_stays_flat() {
    // One thread: rayon's worker bookkeeping would add noise to the counts.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .ok();
    let mut g = Generator::new(0);
    let model = Sequential::new()
        .push(Linear::new(784, 256, true, &mut g))
        .push(ReLU)
        .push(Linear::new(256, 10, true, &mut g));
    let x = Tensor::randn(&[64, 784], &mut g);
    let y: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let mut opt = Adam::default().build(model.trainable_parameters()).unwrap();
    let loss = CrossEntropyLoss::default();
    let mut step = || {
        let l = loss.forward(&model.forward(&x), y.as_slice().into(), &[]);
        opt.step(&l.backward());
    };
    for _ in 0..5 {
        step();
    }
    let measure = |step: &mut dyn FnMut(), n: usize| {
        let (a0, l0) = (ALLOCS.load(Relaxed), LIVE.load(Relaxed));
        for _ in 0..n {
            step();
        }
        (ALLOCS.load(Relaxed) - a0, LIVE.load(Relaxed) - l0)
    };
    let (allocs_10, live_10) = measure(&mut step, 10);
    let (allocs_100, live_100) = measure(&mut step, 100);
    let per_step = allocs_10 / 10;
    eprintln!("{per_step} allocations per step; live heap change over 10 steps {live_10} B, over 100 steps {live_100} B");
    // Constant per step (a one-off allocation somewhere in 100 steps is tolerated).
    assert!(
        allocs_100.abs_diff(10 * allocs_10) <= 2,
        "allocations per step are constant: {allocs_10} in 10 steps, {allocs_100} in 100"
    );
    assert!(
        live_10.abs() < 4096 && live_100.abs() < 4096,
        "the live heap does not grow"
    );
}
