//! Models: the [`Module`] trait, [`Sequential`], and the layers.
//!
//! A model is a tree of modules; its parameters are trainable leaf tensors
//! named by their path in the tree (`layers.0.weight`), exactly as PyTorch's
//! `state_dict` names them, so checkpoints go both ways.

mod activation;
mod checkpoint;
mod conv;
mod dropout;
mod embedding;
pub mod init;
mod linear;
mod norm;
mod pool;
mod sequential;
mod update_bn;

pub use activation::{
    Flatten, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, ReLU,
    ReLU6, SiLU, Sigmoid, Softmax, Softplus, Softsign, Tanh, CELU, ELU, GELU, SELU,
};
pub use checkpoint::{
    load_safetensors, load_tensors, save_safetensors, save_tensors, tensors_from_bytes,
    tensors_to_bytes, tensors_to_bytes_with_metadata, write_atomic, write_atomic_with,
    write_safetensors,
};
pub use conv::{Conv1d, Conv2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use linear::Linear;
pub use norm::{BatchNorm, BatchNorm1d, BatchNorm2d, LayerNorm};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, MaxPool2d};
pub use sequential::Sequential;
pub use update_bn::update_bn;

use crate::Tensor;

/// A layer or a model: a function of its input with named parameters.
///
/// Implementors provide [`Module::forward`] and [`Module::visit`]; names,
/// counts, freezing and train/eval mode all derive from those two.
///
/// ```
/// use downhill::nn::{Module, Visitor};
/// use downhill::Tensor;
///
/// /// y = a·x
/// struct Scale { a: Tensor }
/// impl Module for Scale {
///     fn forward(&self, x: &Tensor) -> Tensor { x * &self.a }
///     fn visit(&self, v: &mut dyn Visitor) { v.param("a", &self.a); }
/// }
///
/// let m = Scale { a: Tensor::scalar(2.0f32).requires_grad_(true) };
/// assert_eq!(m.forward(&Tensor::scalar(3.0f32)).item(), 6.0);
/// assert_eq!(m.named_parameters()[0].0, "a");
/// assert_eq!(m.num_parameters(), 1);
/// ```
pub trait Module: Send + Sync {
    /// Computes the output for input `x`.
    fn forward(&self, x: &Tensor) -> Tensor;

    /// Shows every parameter, buffer and child module to `v`, in a stable
    /// order (declaration order, like PyTorch's registration order).
    fn visit(&self, v: &mut dyn Visitor);

    /// Switches training mode on or off (dropout and batch norm behave
    /// differently). Layers with a mode override this; containers forward it.
    fn set_training(&mut self, _training: bool) {}

    /// Calls `f` on every [`BatchNorm`] layer, in visiting order (what
    /// [`update_bn`] resets and re-estimates). Batch norm overrides it;
    /// containers forward it, as they do [`Module::set_training`].
    fn for_each_batch_norm(&mut self, _f: &mut dyn FnMut(&mut BatchNorm)) {}

    /// Training mode (the default mode of a new module).
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Evaluation mode.
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// `(dotted name, tensor)` of every parameter, trainable or frozen.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut c = Collect::default();
        self.visit(&mut c);
        c.params
    }

    /// Every parameter, trainable or frozen, in visiting order.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// The parameters an optimizer should update (not frozen).
    fn trainable_parameters(&self) -> Vec<Tensor> {
        self.parameters()
            .into_iter()
            .filter(|t| t.requires_grad())
            .collect()
    }

    /// `(dotted name, tensor)` of every buffer (state that is saved but not
    /// trained, like batch norm's running statistics).
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut c = Collect::default();
        self.visit(&mut c);
        c.buffers
    }

    /// `(dotted name, state)` of every random generator (Dropout's), for
    /// checkpoints that resume bit-identically.
    fn named_generators(&self) -> Vec<(String, crate::Generator)> {
        let mut c = Collect::default();
        self.visit(&mut c);
        c.generators
    }

    /// Restores generators saved by [`Module::named_generators`].
    ///
    /// **Errors** naming every generator of the model missing from `states`.
    fn load_generators(&self, states: &[(String, crate::Generator)]) -> crate::Result<()> {
        let mut r = RestoreGenerators {
            path: vec![],
            states,
            missing: vec![],
        };
        self.visit(&mut r);
        if r.missing.is_empty() {
            Ok(())
        } else {
            Err(crate::Error::InvalidArgument {
                name: "generators".into(),
                message: format!("no saved state for {}", r.missing.join(", ")),
            })
        }
    }

    /// Parameters and buffers together, by name: what a checkpoint holds
    /// (PyTorch's `state_dict`).
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut c = Collect::default();
        self.visit(&mut c);
        c.params.extend(c.buffers);
        c.params
    }

    /// Number of parameter elements (trainable or frozen).
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|t| t.numel()).sum()
    }

    /// Freezes (or unfreezes) every parameter whose dotted name starts with
    /// `prefix` (`""` for all): frozen parameters get no gradients.
    /// Returns how many parameters changed state.
    fn freeze(&self, prefix: &str, frozen: bool) -> usize {
        self.named_parameters()
            .into_iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(_, t)| t.set_requires_grad(!frozen))
            .count()
    }
}

/// Receives what a module holds, with names relative to it. Containers call
/// `[`Visitor::child`]` for each sub-module; the visitor keeps track of the path.
pub trait Visitor {
    /// A parameter named `name`.
    fn param(&mut self, name: &str, t: &Tensor);
    /// A buffer named `name`.
    fn buffer(&mut self, _name: &str, _t: &Tensor) {}
    /// A random generator named `name` (Dropout's mask generator), so
    /// checkpoints can save and restore it.
    fn generator(&mut self, _name: &str, _g: &std::sync::Mutex<crate::Generator>) {}
    /// Enters child module `name` (e.g. `"0"` in a Sequential, `"fc1"` in a model).
    fn enter(&mut self, name: &str);
    /// Leaves the child module entered last.
    fn leave(&mut self);
}

impl dyn Visitor + '_ {
    /// Visits `module` as the child `name`.
    pub fn child(&mut self, name: &str, module: &dyn Module) {
        self.enter(name);
        module.visit(self);
        self.leave();
    }
}

/// A visitor that collects dotted names.
#[derive(Default)]
struct Collect {
    path: Vec<String>,
    params: Vec<(String, Tensor)>,
    buffers: Vec<(String, Tensor)>,
    generators: Vec<(String, crate::Generator)>,
}

/// Restores generators by dotted name.
struct RestoreGenerators<'a> {
    path: Vec<String>,
    states: &'a [(String, crate::Generator)],
    missing: Vec<String>,
}

impl Visitor for RestoreGenerators<'_> {
    fn param(&mut self, _name: &str, _t: &Tensor) {}
    fn generator(&mut self, name: &str, g: &std::sync::Mutex<crate::Generator>) {
        let mut full = self.path.join(".");
        if !full.is_empty() {
            full.push('.');
        }
        full.push_str(name);
        match self.states.iter().find(|(n, _)| *n == full) {
            Some((_, s)) => *g.lock().unwrap_or_else(|e| e.into_inner()) = s.clone(),
            None => self.missing.push(full),
        }
    }
    fn enter(&mut self, name: &str) {
        self.path.push(name.to_string());
    }
    fn leave(&mut self) {
        self.path.pop();
    }
}

impl Collect {
    fn full(&self, name: &str) -> String {
        let mut s = self.path.join(".");
        if !s.is_empty() {
            s.push('.');
        }
        s.push_str(name);
        s
    }
}

impl Visitor for Collect {
    fn param(&mut self, name: &str, t: &Tensor) {
        self.params.push((self.full(name), t.clone()));
    }
    fn buffer(&mut self, name: &str, t: &Tensor) {
        self.buffers.push((self.full(name), t.clone()));
    }
    fn generator(&mut self, name: &str, g: &std::sync::Mutex<crate::Generator>) {
        let g = g.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.generators.push((self.full(name), g));
    }
    fn enter(&mut self, name: &str) {
        self.path.push(name.to_string());
    }
    fn leave(&mut self) {
        self.path.pop();
    }
}

impl<M: Module + ?Sized> Module for Box<M> {
    fn forward(&self, x: &Tensor) -> Tensor {
        (**self).forward(x)
    }
    fn visit(&self, v: &mut dyn Visitor) {
        (**self).visit(v)
    }
    fn set_training(&mut self, training: bool) {
        (**self).set_training(training)
    }
    fn for_each_batch_norm(&mut self, f: &mut dyn FnMut(&mut BatchNorm)) {
        (**self).for_each_batch_norm(f)
    }
}
