//! # downhill
//!
//! Gradient descent on the CPU with PyTorch's semantics: n-dimensional
//! tensors of `f32` or `f64` ([`tensor`], [`ops`]), reverse-mode automatic
//! differentiation ([`autograd`]), layers ([`nn`]), losses ([`loss`]),
//! optimizers ([`optim`]), learning-rate schedules ([`schedule`]), datasets
//! and loaders ([`data`]) and a training loop with metrics, early stopping
//! and checkpoints ([`train`]).
//!
//! The textbook example — minimizing f(x) = 2x² from x = 1 with learning
//! rate 0.1 gives 0.6, then 0.36:
//!
//! ```
//! use downhill::Tensor;
//!
//! let x = Tensor::scalar(1.0f64).requires_grad_(true);
//! let mut path = vec![];
//! for _ in 0..2 {
//!     let loss = x.square().mul_scalar(2.0);   // f(x) = 2x²
//!     let grads = loss.backward();             // ∇f = 4x
//!     let g = grads.get(&x).unwrap().item();
//!     x.update_::<f64, _>(|v| v[0] -= 0.1 * g); // θ ← θ − α∇f
//!     path.push(x.item());
//! }
//! assert!((path[0] - 0.6).abs() < 1e-15 && (path[1] - 0.36).abs() < 1e-15);
//! ```
//!
//! Model-code mistakes (mismatched shapes) panic with a message naming the op
//! and both shapes; anything read from outside returns [`Error`]. Optimizers,
//! schedules and losses built from a name and JSON (`optim::from_config`,
//! `schedule::from_config`, `loss::from_config`) check every value against
//! PyTorch's rules and return [`Error::InvalidArgument`] naming the key.
#![warn(missing_docs)]

pub mod autograd;
pub mod data;
mod error;
pub mod file;
pub mod loss;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod schedule;
pub mod tensor;
pub mod train;
mod units;
mod validate;

pub use autograd::{
    gradcheck, is_grad_enabled, no_grad, GradcheckError, GradcheckOptions, Gradients, NoGradGuard,
};
pub use error::{Error, Result};
pub use tensor::{DType, Element, Generator, Tensor};

/// The README's Rust examples, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
