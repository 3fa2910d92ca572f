//! Optimizers: the update rules that turn gradients into parameter steps,
//! numerically identical to `torch.optim` (every file of the PyTorch
//! reference trajectories is a test), and gradient clipping.
//!
//! Every optimizer is a config struct with PyTorch's hyperparameter names and
//! defaults; `build(params)` turns it into an [`Optimizer`] that owns its
//! parameter groups and state:
//!
//! ```
//! use downhill::optim::{Adam, Optimizer};
//! use downhill::Tensor;
//!
//! let w = Tensor::from_vec(vec![1.0f64, -2.0], &[2]).requires_grad_(true);
//! let mut opt = Adam::default().lr(0.1).build(vec![w.clone()]).unwrap();
//! for _ in 0..100 {
//!     let grads = w.square().sum().backward();   // minimize Σ w²
//!     opt.step(&grads);
//! }
//! assert!(w.to_vec_f64().iter().all(|v| v.abs() < 0.05));
//! ```

mod adafactor;
mod adam;
mod adaptive;
mod asgd;
pub mod clip;
mod elementwise;
mod hyper;
mod lbfgs;
mod line_search;
mod muon;
mod sgd;
mod sign;
mod single;
mod state;

pub use adafactor::{Adafactor, AdafactorOptimizer};
pub use adam::{
    Adam, AdamCoefficients, AdamW, Adamax, AdamaxCoefficients, NAdam, NAdamCoefficients, RAdam,
    RAdamCoefficients,
};
pub use adaptive::{
    Adadelta, AdadeltaCoefficients, Adagrad, AdagradCoefficients, RMSprop, RMSpropCoefficients,
};
pub use asgd::{Asgd, AsgdCoefficients};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use elementwise::{Elementwise, ParamGroup, Rule};
pub use hyper::{Hyperparameters, WeightDecay};
pub use lbfgs::{Lbfgs, LbfgsOptimizer, LineSearch};
pub use line_search::BacktrackingLineSearch;
pub use muon::{Muon, MuonOptimizer};
pub use sgd::{GradientDescent, GradientDescentCoefficients, Sgd, SgdCoefficients};
pub use sign::{Lion, LionCoefficients, Rprop, RpropCoefficients};
pub use state::OptimizerState;

use crate::{Error, Gradients, Result, Tensor};

/// The learning rates (and momenta) a schedule drives; every optimizer implements it.
pub trait LrTarget {
    /// Number of parameter groups.
    fn num_groups(&self) -> usize;
    /// Learning rate of group `g`.
    fn lr(&self, g: usize) -> f64;
    /// Sets the learning rate of group `g`.
    fn set_lr(&mut self, g: usize, lr: f64);
    /// The momentum-like hyperparameter cycled by CyclicLR/OneCycleLR (SGD and
    /// RMSprop `momentum`, Adam-family `betas.0`); `None` if there is none.
    fn momentum(&self, g: usize) -> Option<f64>;
    /// Sets it (no-op if there is none).
    fn set_momentum(&mut self, g: usize, m: f64);
}

/// What every optimizer does: update its parameters in place from gradients.
pub trait Optimizer: LrTarget + Send {
    /// The optimizer's PyTorch name (`"Adam"`).
    fn name(&self) -> &'static str;

    /// One update of every parameter that has a gradient in `grads`
    /// (parameters without one are left alone, like PyTorch's `grad is None`).
    fn step(&mut self, grads: &Gradients);

    /// One update for optimizers that re-evaluate the loss (LBFGS, line
    /// searches): `closure` recomputes the loss and its gradients at the
    /// current parameters. Returns the loss at the starting point. For the
    /// others it evaluates once and calls [`Optimizer::step`].
    fn step_with_closure(&mut self, closure: &mut dyn FnMut() -> (f64, Gradients)) -> f64 {
        let (loss, grads) = closure();
        self.step(&grads);
        loss
    }

    /// Every parameter it updates, group by group.
    fn params(&self) -> Vec<Tensor>;

    /// The state as named tensors (moments in the parameters' dtype) and a
    /// small document (hyperparameters, step counts): see [`OptimizerState`]
    /// for the key scheme. The tensors share memory with the optimizer, as
    /// PyTorch's do; a run resumed from it continues bit-identically.
    fn state_dict(&self) -> OptimizerState;

    /// Restores what [`Optimizer::state_dict`] saved, copying the tensors.
    ///
    /// **Errors** if the state is malformed or does not fit the parameters.
    fn load_state_dict(&mut self, state: &OptimizerState) -> Result<()>;

    /// Restores the JSON state of checkpoint format 1 (downhill's
    /// `state_dict` before the state became tensors), so old checkpoints
    /// resume.
    ///
    /// **Errors** if the state is malformed or does not fit the parameters.
    fn load_state_dict_v1(&mut self, state: &serde_json::Value) -> Result<()>;
}

/// `Err(InvalidArgument)` unless `ok`: the hyperparameter checks of every config.
pub(crate) fn check(ok: bool, name: &str, message: impl Into<String>) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            name: name.to_string(),
            message: message.into(),
        })
    }
}

/// Builds an optimizer from its PyTorch name and hyperparameters given as
/// JSON (`{"lr": 0.1, "betas": [0.9, 0.99]}`), PyTorch's names and defaults
/// for everything not given. The CLI's `--optimizer NAME --opt key=value` and
/// the reference tests go through here.
///
/// **Errors** on an unknown optimizer, an unknown or ill-typed
/// hyperparameter, or an invalid value.
///
/// ```
/// use downhill::optim::from_config;
/// use downhill::Tensor;
/// let w = Tensor::zeros(&[3]).requires_grad_(true);
/// let opt = from_config("SGD", &serde_json::json!({"lr": 0.1, "momentum": 0.9}), vec![w]).unwrap();
/// assert_eq!(opt.name(), "SGD");
/// assert!(from_config("Adamm", &serde_json::json!({}), vec![]).is_err());
/// ```
pub fn from_config(
    name: &str,
    hyper: &serde_json::Value,
    params: Vec<Tensor>,
) -> Result<Box<dyn Optimizer>> {
    fn parse<C: serde::de::DeserializeOwned + Default + serde::Serialize>(
        name: &str,
        hyper: &serde_json::Value,
    ) -> Result<C> {
        // Merge the given keys over the defaults, rejecting unknown ones.
        let mut base = serde_json::to_value(C::default()).expect("configs serialize");
        let (Some(obj), Some(given)) = (base.as_object_mut(), hyper.as_object()) else {
            return Err(Error::InvalidArgument {
                name: name.to_string(),
                message: "hyperparameters must be a JSON object".into(),
            });
        };
        for (k, v) in given {
            if !obj.contains_key(k) {
                let known: Vec<&String> = obj.keys().collect();
                return Err(Error::InvalidArgument {
                    name: format!("{name}.{k}"),
                    message: format!("unknown hyperparameter; {name} takes {known:?}"),
                });
            }
            obj.insert(k.clone(), v.clone());
        }
        serde_json::from_value(base).map_err(|e| Error::InvalidArgument {
            name: name.to_string(),
            message: e.to_string(),
        })
    }
    let key = name.to_ascii_lowercase().replace(['_', '-'], "");
    Ok(match key.as_str() {
        "gd" | "gradientdescent" => Box::new(parse::<GradientDescent>(name, hyper)?.build(params)?),
        "sgd" => Box::new(parse::<Sgd>(name, hyper)?.build(params)?),
        "adam" => Box::new(parse::<Adam>(name, hyper)?.build(params)?),
        "adamw" => Box::new(parse::<AdamW>(name, hyper)?.build(params)?),
        "adamax" => Box::new(parse::<Adamax>(name, hyper)?.build(params)?),
        "nadam" => Box::new(parse::<NAdam>(name, hyper)?.build(params)?),
        "radam" => Box::new(parse::<RAdam>(name, hyper)?.build(params)?),
        "rmsprop" => Box::new(parse::<RMSprop>(name, hyper)?.build(params)?),
        "adagrad" => Box::new(parse::<Adagrad>(name, hyper)?.build(params)?),
        "adadelta" => Box::new(parse::<Adadelta>(name, hyper)?.build(params)?),
        "asgd" => Box::new(parse::<Asgd>(name, hyper)?.build(params)?),
        "rprop" => Box::new(parse::<Rprop>(name, hyper)?.build(params)?),
        "lion" => Box::new(parse::<Lion>(name, hyper)?.build(params)?),
        "lbfgs" => Box::new(parse::<Lbfgs>(name, hyper)?.build(params)?),
        "adafactor" => Box::new(parse::<Adafactor>(name, hyper)?.build(params)?),
        "muon" => Box::new(parse::<Muon>(name, hyper)?.build(params)?),
        _ => {
            return Err(Error::InvalidArgument {
                name: name.to_string(),
                message: "unknown optimizer; expected one of GradientDescent, SGD, Adam, AdamW, Adamax, NAdam, \
                          RAdam, RMSprop, Adagrad, Adadelta, ASGD, Rprop, Lion, LBFGS, Adafactor, Muon"
                    .into(),
            })
        }
    })
}
