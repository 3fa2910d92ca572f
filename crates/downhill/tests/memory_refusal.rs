//! A model far too large for the machine is refused before anything large
//! is allocated: from its layer sizes (what the command line knows before
//! building it), and by `Trainer::fit` against a configured limit.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Records the largest single allocation.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LARGEST.fetch_max(new, Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

use downhill::data::{BatchSize, TensorDataset};
use downhill::loss::MseLoss;
use downhill::nn::{Linear, Module, ReLU, Sequential};
use downhill::optim::Adam;
use downhill::train::memory::{available_memory, RunPlan};
use downhill::train::{TrainConfig, Trainer};
use downhill::{DType, Error, Generator, Tensor};

#[test]
fn a_billion_unit_hidden_layer_is_refused_from_its_sizes_without_allocating() {
    // `downhill train --data digits --hidden 1000000000`: 64 → 10⁹ → 10.
    let avail = available_memory().expect("Linux reports its memory");
    LARGEST.store(0, Relaxed);
    let mut plan = RunPlan::mlp(&[64, 1_000_000_000, 10], DType::F32, 32, "Adam");
    plan.rollback = true;
    plan.restore_best = true;
    let need = plan.estimate();
    let err = need.check(avail.bytes, &avail.source).unwrap_err();
    assert!(
        LARGEST.load(Relaxed) < 1 << 20,
        "allocated {} bytes",
        LARGEST.load(Relaxed)
    );
    // 7.5·10¹⁰ parameters × 4 bytes, ×2 for gradients, Adam's 2 moments, snapshots.
    assert_eq!(need.parameters, 75_000_000_010 * 4);
    assert!(need.total() > 2_000_000_000_000);
    let Error::OutOfMemory {
        needed, available, ..
    } = &err
    else {
        panic!("expected OutOfMemory, got {err}");
    };
    assert_eq!((*needed, *available), (need.total(), avail.bytes));
    let msg = err.to_string();
    assert!(
        msg.starts_with("not enough memory: this needs about "),
        "{msg}"
    );
    assert!(
        msg.contains("is available (") && msg.contains("shrink the layers"),
        "{msg}"
    );
}

#[test]
fn fit_refuses_a_run_over_its_memory_limit_before_the_first_step() {
    let mut g = Generator::new(0);
    let model = Sequential::new()
        .push(Linear::new(16, 256, true, &mut g))
        .push(ReLU)
        .push(Linear::new(256, 1, true, &mut g));
    let w0 = model.state_dict()[0].1.to_vec_f32();
    let opt = Adam::default().build(model.trainable_parameters()).unwrap();
    let data = TensorDataset::regression(Tensor::ones(&[64, 16]), &Tensor::ones(&[64, 1]));
    let config = TrainConfig {
        batch_size: BatchSize::Full,
        progress: false,
        memory_limit: Some(100_000),
        ..TrainConfig::default()
    };
    let mut t = Trainer::new(
        Box::new(model),
        Box::new(MseLoss::default()),
        Box::new(opt),
        config,
    );
    let need = t.memory_estimate(&data);
    let params = (16 * 256 + 256 + 256 + 1) * 4;
    assert_eq!(
        (need.parameters, need.gradients, need.optimizer_state),
        (params, params, 2 * params)
    );
    // 64 samples × (16 inputs + 2 × (256 + 1) outputs) × 4 bytes × 2.
    assert_eq!(need.activations, 64 * (16 + 2 * 257) * 4 * 2);
    let err = t.fit(&data, None).unwrap_err().to_string();
    assert!(
        err.contains("100.0 kB is available (TrainConfig::memory_limit)"),
        "{err}"
    );
    assert_eq!(
        t.model().state_dict()[0].1.to_vec_f32(),
        w0,
        "no step was taken"
    );
    assert_eq!(t.history().len(), 0);
    // With room, the same trainer trains.
    t.config_mut().memory_limit = Some(need.total());
    assert!(t.fit(&data, None).is_ok());
}

#[test]
fn a_layer_too_large_to_allocate_is_an_error_not_an_abort() {
    let mut g = Generator::new(0);
    let err = Linear::try_with_dtype(1_000_000_000_000, 1_000_000, true, DType::F32, &mut g)
        .err()
        .expect("a 4·10¹⁸-byte weight is refused");
    assert!(
        matches!(err, Error::AllocationFailed { bytes, .. } if bytes == 4_000_000_000_000_000_000)
    );
    let msg = err.to_string();
    assert!(
        msg.contains("F32 tensor of shape [1000000, 1000000000000]"),
        "{msg}"
    );
    // The fallible constructor draws exactly what the infallible one does.
    let a = Linear::with_dtype(5, 3, true, DType::F32, &mut Generator::new(4));
    let b = Linear::try_with_dtype(5, 3, true, DType::F32, &mut Generator::new(4)).unwrap();
    assert_eq!(a.weight.to_vec_f32(), b.weight.to_vec_f32());
    assert_eq!(a.bias.unwrap().to_vec_f32(), b.bias.unwrap().to_vec_f32());
}
