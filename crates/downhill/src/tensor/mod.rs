//! [`Tensor`]: an n-dimensional, row-major array of `f32` or `f64` that
//! records the operations applied to it, so gradients flow back by the chain rule.

mod creation;
mod display;
pub(crate) mod element;
pub(crate) mod pool;
pub(crate) mod random;
pub mod shape;
pub(crate) mod storage;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::autograd::{is_grad_enabled, Backward};
pub use element::{DType, Element};
pub use random::Generator;
use storage::Storage;

/// An n-dimensional array of `f32` (the default) or `f64`, row-major and
/// contiguous, that remembers how it was computed.
///
/// Cloning is cheap (a reference count). Values are immutable through the
/// public arithmetic; parameters are updated in place only by optimizers
/// (see [`Tensor::update_`]). Operations on tensors that require gradients
/// record a graph; [`Tensor::backward`] walks it once and returns the
/// [`Gradients`](crate::Gradients) of the marked leaves.
///
/// ```
/// use downhill::Tensor;
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).requires_grad_(true);
/// let loss = (&x * &x).sum();          // Σ x²
/// let grads = loss.backward();
/// assert_eq!(grads.get(&x).unwrap().to_vec_f64(), vec![2.0, 4.0, 6.0]);
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub(crate) shape: Vec<usize>,
    pub(crate) storage: RwLock<Storage>,
    /// The op that produced this tensor and its inputs; taken (released) by backward.
    pub(crate) node: Mutex<Option<Node>>,
    /// True if produced by a recorded op (as opposed to a leaf).
    pub(crate) has_node: bool,
    /// Leaf: marked trainable by the user. Non-leaf: some input required grad.
    pub(crate) requires_grad: AtomicBool,
}

/// One recorded operation: how to send the output's gradient to the inputs.
pub(crate) struct Node {
    pub(crate) inputs: Inputs,
    pub(crate) op: Box<dyn Backward>,
}

/// The inputs of a recorded op, without a heap allocation for one or two.
pub(crate) enum Inputs {
    One([Tensor; 1]),
    Two([Tensor; 2]),
    Many(Vec<Tensor>),
}

impl Inputs {
    pub(crate) fn as_slice(&self) -> &[Tensor] {
        match self {
            Inputs::One(a) => a,
            Inputs::Two(a) => a,
            Inputs::Many(v) => v,
        }
    }
}

impl Drop for Inner {
    /// Dismantles the graph iteratively: dropping the last handle to a long
    /// chain of ops must not recurse once per op (and overflow the stack).
    fn drop(&mut self) {
        pool::recycle(self.storage.get_mut().unwrap_or_else(|e| e.into_inner()));
        let Some(node) = self.node.get_mut().ok().and_then(|n| n.take()) else {
            return;
        };
        let mut stack: Vec<Tensor> = Vec::new();
        push_inputs(node, &mut stack);
        while let Some(t) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(t.0) {
                if let Some(node) = inner.node.get_mut().ok().and_then(|n| n.take()) {
                    push_inputs(node, &mut stack);
                }
            }
        }
    }
}

fn push_inputs(node: Node, stack: &mut Vec<Tensor>) {
    match node.inputs {
        Inputs::One([a]) => stack.push(a),
        Inputs::Two([a, b]) => {
            stack.push(a);
            stack.push(b);
        }
        Inputs::Many(v) => stack.extend(v),
    }
}

impl Tensor {
    /// A leaf tensor (no recorded history) over `storage`.
    pub(crate) fn from_storage(storage: Storage, shape: Vec<usize>) -> Tensor {
        debug_assert_eq!(storage.len(), shape::numel(&shape));
        Tensor(Arc::new(Inner {
            shape,
            storage: RwLock::new(storage),
            node: Mutex::new(None),
            has_node: false,
            requires_grad: AtomicBool::new(false),
        }))
    }

    /// The result of an op: records `op` with `inputs` when gradients are
    /// enabled and some input requires them; otherwise a plain leaf.
    pub(crate) fn from_op(
        storage: Storage,
        shape: Vec<usize>,
        inputs: &[&Tensor],
        op: impl Backward + 'static,
    ) -> Tensor {
        if !is_grad_enabled() || !inputs.iter().any(|t| t.requires_grad()) {
            return Tensor::from_storage(storage, shape);
        }
        let inputs = match inputs {
            [a] => Inputs::One([(*a).clone()]),
            [a, b] => Inputs::Two([(*a).clone(), (*b).clone()]),
            many => Inputs::Many(many.iter().map(|t| (*t).clone()).collect()),
        };
        debug_assert_eq!(storage.len(), shape::numel(&shape));
        Tensor(Arc::new(Inner {
            shape,
            storage: RwLock::new(storage),
            node: Mutex::new(Some(Node {
                inputs,
                op: Box::new(op),
            })),
            has_node: true,
            requires_grad: AtomicBool::new(true),
        }))
    }

    /// The dimensions, outermost first (`[]` for a 0-d scalar).
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// The dimensions (same as [`Tensor::shape`]).
    pub fn dims(&self) -> &[usize] {
        &self.0.shape
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.0.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        shape::numel(&self.0.shape)
    }

    /// Size of dimension `dim` (negative counts from the end).
    ///
    /// **Panics** if `dim` is out of range.
    #[track_caller]
    pub fn size(&self, dim: isize) -> usize {
        self.0.shape[shape::normalize_axis("size", dim, self.ndim())]
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.read_storage().dtype()
    }

    /// Whether gradients flow to (a leaf) or through (a result) this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks a leaf tensor as trainable (or not): [`Tensor::backward`] returns
    /// gradients for the trainable leaves it reaches. Returns `self` for chaining.
    ///
    /// **Panics** if called on the result of a recorded op (only leaves can be marked).
    #[track_caller]
    pub fn requires_grad_(self, on: bool) -> Tensor {
        self.set_requires_grad(on);
        self
    }

    /// Same as [`Tensor::requires_grad_`] through a shared handle (used to freeze
    /// and unfreeze parameters held by a model).
    #[track_caller]
    pub fn set_requires_grad(&self, on: bool) {
        assert!(
            !self.0.has_node,
            "requires_grad_: only leaf tensors can be marked; call .detach() first"
        );
        self.0.requires_grad.store(on, Ordering::Relaxed);
    }

    /// True if this tensor was not produced by a recorded op.
    pub fn is_leaf(&self) -> bool {
        !self.0.has_node
    }

    /// A new leaf with the same values and no history (a copy).
    pub fn detach(&self) -> Tensor {
        Tensor::from_storage(self.read_storage().clone(), self.0.shape.clone())
    }

    /// True if both handles point to the same tensor.
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// An identifier unique among live tensors (the address of its shared state).
    pub fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    pub(crate) fn read_storage(&self) -> std::sync::RwLockReadGuard<'_, Storage> {
        self.0.storage.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_storage(&self) -> std::sync::RwLockWriteGuard<'_, Storage> {
        self.0.storage.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the elements as a typed slice.
    ///
    /// **Panics** if `T` is not the tensor's dtype.
    #[track_caller]
    pub fn with_data<T: Element, R>(&self, f: impl FnOnce(&[T]) -> R) -> R {
        let s = self.read_storage();
        f(typed::<T>(&s, "with_data"))
    }

    /// Updates the elements in place: the optimizers' entry point.
    ///
    /// In-place updates bypass the graph: do them outside a forward pass whose
    /// graph saved this tensor (as PyTorch does under `torch.no_grad()`).
    ///
    /// **Panics** if `T` is not the tensor's dtype.
    #[track_caller]
    pub fn update_<T: Element, R>(&self, f: impl FnOnce(&mut [T]) -> R) -> R {
        let mut s = self.write_storage();
        let dtype = s.dtype();
        match typed_mut::<T>(&mut s) {
            Some(v) => f(v),
            None => panic!("update_: tensor is {dtype}, not {}", T::DTYPE),
        }
    }

    /// Copies the values of `src` (same shape, any dtype) into this tensor in place.
    ///
    /// **Panics** if the shapes differ.
    #[track_caller]
    pub fn assign_(&self, src: &Tensor) {
        assert_eq!(
            self.shape(),
            src.shape(),
            "assign_: shapes {:?} and {:?} differ",
            self.shape(),
            src.shape()
        );
        if self.same(src) {
            return;
        }
        let v = src.read_storage().to_dtype(self.dtype());
        *self.write_storage() = v;
    }

    /// All elements as `f64`, row-major.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.read_storage().to_f64_vec()
    }

    /// All elements as `f32`, row-major (rounding `f64`).
    pub fn to_vec_f32(&self) -> Vec<f32> {
        match &*self.read_storage() {
            Storage::F32(v) => v.clone(),
            Storage::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// All elements converted to `T`, row-major.
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        storage::dispatch!(&*self.read_storage(), |s: S| s
            .iter()
            .map(|&x| T::from_f64(x.to_f64()))
            .collect())
    }

    /// The single value of a one-element tensor, as `f64`.
    ///
    /// **Panics** if the tensor has more than one element.
    #[track_caller]
    pub fn item(&self) -> f64 {
        assert_eq!(
            self.numel(),
            1,
            "item: tensor of shape {:?} has {} elements, not 1",
            self.shape(),
            self.numel()
        );
        storage::dispatch!(&*self.read_storage(), |s: S| s[0].to_f64())
    }

    /// A copy converted to `dtype`; differentiable (the gradient converts back).
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if self.dtype() == dtype && !self.requires_grad() {
            return self.clone();
        }
        let s = self.read_storage().to_dtype(dtype);
        Tensor::from_op(s, self.0.shape.clone(), &[self], crate::ops::shape::ToDType)
    }
}

#[track_caller]
pub(crate) fn typed<'a, T: Element>(s: &'a Storage, op: &str) -> &'a [T] {
    let dtype = s.dtype();
    match typed_ref::<T>(s) {
        Some(v) => v,
        None => panic!("{op}: tensor is {dtype}, not {}", T::DTYPE),
    }
}

fn typed_ref<T: Element>(s: &Storage) -> Option<&[T]> {
    // T is f32 or f64 (sealed), so exactly one arm can match.
    let any: &dyn std::any::Any = match s {
        Storage::F32(v) => v,
        Storage::F64(v) => v,
    };
    any.downcast_ref::<Vec<T>>().map(|v| &v[..])
}

fn typed_mut<T: Element>(s: &mut Storage) -> Option<&mut [T]> {
    let any: &mut dyn std::any::Any = match s {
        Storage::F32(v) => v,
        Storage::F64(v) => v,
    };
    any.downcast_mut::<Vec<T>>().map(|v| &mut v[..])
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
