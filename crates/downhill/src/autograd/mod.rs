//! Reverse-mode automatic differentiation: the backward walk, the gradients
//! it returns, the no-grad scope, and a finite-difference gradient checker.

mod gradcheck;

use std::cell::Cell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::tensor::{Node, Tensor};
pub use gradcheck::{gradcheck, GradcheckError, GradcheckOptions};

/// How an op sends its output's gradient back to its inputs.
///
/// Each op implements this beside its forward (see `ops/`); `backward`
/// receives the inputs, the op's output and the gradient of the loss with
/// respect to that output, and adds each input's gradient to `sink`.
pub(crate) trait Backward: Send + Sync {
    /// The op's name, for error messages.
    fn name(&self) -> &'static str;
    /// Adds ∂L/∂input_i = (∂output/∂input_i)ᵀ · grad for each input `i`.
    fn backward(&self, inputs: &[Tensor], output: &Tensor, grad: &Tensor, sink: &mut GradSink);
}

/// Receives the input gradients computed by one op's backward.
pub(crate) struct GradSink<'a> {
    op: &'static str,
    inputs: &'a [Tensor],
    slots: &'a mut [Option<Tensor>],
    /// For each input of the current op, its slot in `slots` (None: needs no gradient).
    targets: [Option<usize>; 4],
    many: Vec<Option<usize>>,
}

impl GradSink<'_> {
    /// True if input `i` needs a gradient (skip the work otherwise).
    pub(crate) fn wants(&self, i: usize) -> bool {
        self.target(i).is_some()
    }

    fn target(&self, i: usize) -> Option<usize> {
        if self.many.is_empty() {
            self.targets.get(i).copied().flatten()
        } else {
            self.many.get(i).copied().flatten()
        }
    }

    /// Adds `g` to the gradient of input `i` (summing when an input is used twice).
    pub(crate) fn add(&mut self, i: usize, g: Tensor) {
        if let Some(slot) = self.target(i) {
            assert!(
                crate::tensor::shape::same(g.shape(), self.inputs[i].shape()),
                "{} backward: gradient shape {:?} does not match input {i} shape {:?} (a bug in downhill)",
                self.op,
                g.shape(),
                self.inputs[i].shape()
            );
            accumulate(&mut self.slots[slot], g);
        }
    }
}

/// `slot += g`, in place when the accumulated tensor is not shared.
fn accumulate(slot: &mut Option<Tensor>, g: Tensor) {
    match slot {
        None => *slot = Some(g),
        Some(acc) => {
            if std::sync::Arc::strong_count(&acc.0) == 1
                && crate::tensor::shape::same(acc.shape(), g.shape())
            {
                crate::ops::binary::add_assign(acc, &g);
            } else {
                *slot = Some(&*acc + &g);
            }
        }
    }
}

/// A hasher for pointer keys (already well distributed).
#[derive(Default)]
pub(crate) struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PtrMap<V> = HashMap<usize, V, BuildHasherDefault<PtrHasher>>;

/// The gradients of a loss with respect to the trainable leaves it depends on,
/// as returned by [`Tensor::backward`].
///
/// Gradients are data: nothing is stored on the parameters, so there is no
/// `zero_grad` to forget. Look one up with [`Gradients::get`].
///
/// ```
/// use downhill::Tensor;
/// let w = Tensor::scalar(3.0f64).requires_grad_(true);
/// let grads = (&w * &w).backward();
/// assert_eq!(grads.get(&w).unwrap().item(), 6.0);
/// ```
#[derive(Default, Clone)]
pub struct Gradients {
    map: PtrMap<(Tensor, Tensor)>,
}

impl Gradients {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The gradient of the loss with respect to `leaf`, if it reached it.
    pub fn get(&self, leaf: &Tensor) -> Option<&Tensor> {
        self.map.get(&leaf.id()).map(|(_, g)| g)
    }

    /// Sets (replaces) the gradient of `leaf`.
    pub fn insert(&mut self, leaf: &Tensor, grad: Tensor) {
        self.map.insert(leaf.id(), (leaf.clone(), grad));
    }

    /// Removes and returns the gradient of `leaf`.
    pub fn remove(&mut self, leaf: &Tensor) -> Option<Tensor> {
        self.map.remove(&leaf.id()).map(|(_, g)| g)
    }

    /// Number of leaves with a gradient.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if no leaf has a gradient.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// `(leaf, gradient)` pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&Tensor, &Tensor)> {
        self.map.values().map(|(t, g)| (t, g))
    }

    /// Adds every gradient of `other` into this set (gradient accumulation
    /// over several backward passes).
    pub fn accumulate(&mut self, other: Gradients) {
        for (id, (leaf, g)) in other.map {
            match self.map.get_mut(&id) {
                Some((_, acc)) => {
                    let mut slot = Some(acc.clone());
                    accumulate(&mut slot, g);
                    *acc = slot.expect("accumulate keeps the slot filled");
                }
                None => {
                    self.map.insert(id, (leaf, g));
                }
            }
        }
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless inside a [`no_grad`] scope on this thread.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` without recording operations (evaluation, parameter updates).
///
/// ```
/// use downhill::{no_grad, Tensor};
/// let w = Tensor::scalar(2.0f32).requires_grad_(true);
/// let y = no_grad(|| &w * 3.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Disables recording on this thread until dropped (restoring the previous state).
pub struct NoGradGuard {
    prev: bool,
}

impl NoGradGuard {
    /// Enters a no-grad scope.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let prev = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard { prev }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.prev));
    }
}

/// Tensor id → position, a linear scan for the small graphs of scalar code
/// (no hashing, no allocation past the first few pushes), a hash map beyond.
enum IdMap {
    Small(Vec<(usize, usize)>),
    Large(PtrMap<usize>),
}

impl IdMap {
    const SMALL: usize = 32;

    fn get(&self, id: usize) -> Option<usize> {
        match self {
            IdMap::Small(v) => v.iter().find(|(k, _)| *k == id).map(|&(_, p)| p),
            IdMap::Large(m) => m.get(&id).copied(),
        }
    }

    /// Inserts if absent; returns true if it was absent.
    fn insert_new(&mut self, id: usize, pos: usize) -> bool {
        if self.get(id).is_some() {
            return false;
        }
        match self {
            IdMap::Small(v) if v.len() < Self::SMALL => v.push((id, pos)),
            IdMap::Small(v) => {
                let mut m: PtrMap<usize> = v.drain(..).collect();
                m.insert(id, pos);
                *self = IdMap::Large(m);
            }
            IdMap::Large(m) => {
                m.insert(id, pos);
            }
        }
        true
    }

    fn set(&mut self, id: usize, pos: usize) {
        match self {
            IdMap::Small(v) => {
                if let Some(e) = v.iter_mut().find(|(k, _)| *k == id) {
                    e.1 = pos;
                }
            }
            IdMap::Large(m) => {
                m.insert(id, pos);
            }
        }
    }
}

/// Orders the recorded graph below `root` so that every tensor comes after
/// all the tensors computed from it (root first), taking each node out of its
/// tensor. Returns the order and a map from tensor id to its position.
/// Iterative: deep graphs are fine.
fn topo_order(root: &Tensor) -> (Vec<(Tensor, Option<Node>)>, IdMap) {
    // Post-order DFS, then reverse. Each graph node is visited once; `seen`
    // maps ids to post-order positions (set when the node is finished).
    let mut seen = IdMap::Small(Vec::new());
    let mut post: Vec<(Tensor, Option<Node>)> = Vec::new();
    // (tensor, its node once taken, index of next input to visit)
    let mut stack: Vec<(Tensor, Option<Node>, usize)> = Vec::new();
    seen.insert_new(root.id(), usize::MAX);
    let node = take_node(root);
    stack.push((root.clone(), node, 0));
    while let Some((_, node, next)) = stack.last_mut() {
        let child = node
            .as_ref()
            .and_then(|n| n.inputs.as_slice().get(*next).cloned());
        *next += 1;
        match child {
            Some(c) => {
                if c.requires_grad() && seen.insert_new(c.id(), usize::MAX) {
                    let n = take_node(&c);
                    stack.push((c, n, 0));
                }
            }
            None => {
                let (t, n, _) = stack.pop().expect("stack is non-empty");
                seen.set(t.id(), post.len());
                post.push((t, n));
            }
        }
    }
    post.reverse();
    (post, seen)
}

/// Takes the recorded node of a result tensor, releasing the graph as backward goes.
///
/// **Panics** if the tensor was produced by an op whose graph a previous
/// backward already released.
fn take_node(t: &Tensor) -> Option<Node> {
    if !t.0.has_node {
        return None;
    }
    let node = t.0.node.lock().unwrap_or_else(|e| e.into_inner()).take();
    assert!(
        node.is_some(),
        "backward: this graph was already released by an earlier backward; \
         recompute the forward pass to differentiate again"
    );
    node
}

impl Tensor {
    /// Computes the gradient of this scalar with respect to every trainable
    /// leaf it depends on, by reverse-mode differentiation, and releases the
    /// recorded graph.
    ///
    /// **Panics** if the tensor has more than one element (use
    /// [`Tensor::backward_with`] to supply the output gradient).
    #[track_caller]
    pub fn backward(&self) -> Gradients {
        assert_eq!(
            self.numel(),
            1,
            "backward: the loss must have one element, but has shape {:?}; \
             reduce it (e.g. .mean()) or use backward_with",
            self.shape()
        );
        self.backward_with(&self.ones_like())
    }

    /// Reverse-mode differentiation seeded with `grad` = ∂L/∂self (same shape).
    ///
    /// **Panics** if `grad`'s shape differs from this tensor's.
    #[track_caller]
    pub fn backward_with(&self, grad: &Tensor) -> Gradients {
        assert!(
            crate::tensor::shape::same(grad.shape(), self.shape()),
            "backward_with: gradient shape {:?} does not match output shape {:?}",
            grad.shape(),
            self.shape()
        );
        let mut out = Gradients::new();
        if !self.requires_grad() {
            return out;
        }
        let _no_grad = NoGradGuard::new();
        let (mut order, post_index) = topo_order(self);
        let n = order.len();
        let mut slots: Vec<Option<Tensor>> = vec![None; order.len()];
        slots[0] = Some(grad.clone());
        for i in 0..order.len() {
            let Some(g) = slots[i].take() else { continue };
            let (t, node) = &mut order[i];
            match node.take() {
                None => {
                    // A trainable leaf: keep its gradient.
                    out.map.insert(t.id(), (t.clone(), g));
                }
                Some(node) => {
                    let inputs = node.inputs.as_slice();
                    let lookup = |x: &Tensor| {
                        if x.requires_grad() {
                            post_index.get(x.id()).map(|p| n - 1 - p)
                        } else {
                            None
                        }
                    };
                    let mut sink = GradSink {
                        op: node.op.name(),
                        inputs,
                        slots: &mut slots,
                        targets: [None; 4],
                        many: Vec::new(),
                    };
                    if inputs.len() <= 4 {
                        for (k, x) in inputs.iter().enumerate() {
                            sink.targets[k] = lookup(x);
                        }
                    } else {
                        sink.many = inputs.iter().map(lookup).collect();
                    }
                    node.op.backward(inputs, t, &g, &mut sink);
                    // `node` drops here: this op's saved tensors are released.
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn gradient_accumulates_when_a_value_is_used_twice() {
        let x = Tensor::scalar(3.0f64).requires_grad_(true);
        let g = (&x * &x).backward();
        assert_eq!(g.get(&x).unwrap().item(), 6.0);
    }

    #[test]
    fn diamond_graph_sums_both_paths() {
        // y = a·b where a = 2x, b = x + 1  ⇒  dy/dx = 2(x+1) + 2x = 4x + 2
        let x = Tensor::scalar(1.5f64).requires_grad_(true);
        let a = &x * 2.0;
        let b = &x + 1.0;
        let g = (&a * &b).backward();
        assert_eq!(g.get(&x).unwrap().item(), 8.0);
    }

    #[test]
    fn only_marked_leaves_get_gradients() {
        let x = Tensor::scalar(1.0f64).requires_grad_(true);
        let c = Tensor::scalar(5.0f64);
        let g = (&x * &c).backward();
        assert_eq!(g.len(), 1);
        assert!(g.get(&c).is_none());
    }

    #[test]
    fn no_grad_records_nothing_and_detach_cuts_history() {
        let x = Tensor::scalar(1.0f32).requires_grad_(true);
        assert!(!crate::no_grad(|| &x * 2.0).requires_grad());
        assert!(!(&x * 2.0).detach().requires_grad());
        assert!(crate::is_grad_enabled());
    }

    #[test]
    #[should_panic(expected = "already released")]
    fn second_backward_through_a_released_graph_panics() {
        let x = Tensor::scalar(1.0f32).requires_grad_(true);
        let y = &(&x * 2.0) * 3.0;
        y.backward();
        y.backward();
    }

    #[test]
    fn deep_chain_neither_overflows_backward_nor_drop() {
        let x = Tensor::scalar(1.0f64).requires_grad_(true);
        let mut y = x.clone();
        for _ in 0..200_000 {
            y = &y + 1e-6;
        }
        let g = y.backward();
        assert_eq!(g.get(&x).unwrap().item(), 1.0);
        let mut z = x.clone();
        for _ in 0..200_000 {
            z = &z * 1.0;
        }
        drop(z); // never differentiated: dropped iteratively
    }
}
