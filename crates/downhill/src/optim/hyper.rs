//! The hyperparameters most optimizers share — learning rate, momentum,
//! maximize, weight decay — read and applied in one place.

use crate::tensor::Element;

/// The hyperparameters a schedule or the engine reads from every
/// optimizer's config, implemented for each config by one line naming its
/// fields (`hyperparameters!(Adam { lr, momentum: betas.0, maximize: maximize })`).
///
/// ```
/// use downhill::optim::{Adam, Hyperparameters, Sgd};
/// let mut adam = Adam::default();
/// Hyperparameters::set_momentum(&mut adam, 0.8);
/// assert_eq!(adam.betas.0, 0.8);
/// assert_eq!(Hyperparameters::momentum(&Sgd::default()), Some(0.0));
/// ```
pub trait Hyperparameters {
    /// Learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f64);
    /// The momentum-like hyperparameter cycled by CyclicLR/OneCycleLR (SGD and
    /// RMSprop `momentum`, Adam-family `betas.0`); `None` if there is none.
    fn momentum(&self) -> Option<f64> {
        None
    }
    /// Sets it (no-op if there is none).
    fn set_momentum(&mut self, _m: f64) {}
    /// Whether gradients are negated (gradient ascent).
    fn maximize(&self) -> bool {
        false
    }
}

/// Implements [`Hyperparameters`] for a config from the names of its fields:
/// `hyperparameters!(Adam { lr, momentum: betas.0, maximize: maximize })`.
macro_rules! hyperparameters {
    (@momentum) => {};
    (@momentum $($m:tt).+) => {
        fn momentum(&self) -> Option<f64> {
            Some(self.$($m).+)
        }
        fn set_momentum(&mut self, m: f64) {
            self.$($m).+ = m;
        }
    };
    (@maximize) => {};
    (@maximize $x:ident) => {
        fn maximize(&self) -> bool {
            self.$x
        }
    };
    ($ty:ident { lr $(, momentum: $($m:tt).+)? $(, maximize: $maximize:ident)? }) => {
        impl $crate::optim::Hyperparameters for $ty {
            fn lr(&self) -> f64 {
                self.lr
            }
            fn set_lr(&mut self, lr: f64) {
                self.lr = lr;
            }
            hyperparameters!(@momentum $($($m).+)?);
            hyperparameters!(@maximize $($maximize)?);
        }
    };
}
pub(crate) use hyperparameters;

/// Weight decay as the elementwise rules apply it, per step:
/// coupled (L2, `g ← g + λθ`) or decoupled (`θ ← θ(1 − αλ)`, AdamW's).
///
/// ```
/// use downhill::optim::WeightDecay;
/// let (mut p, g) = (2.0f64, 1.0);
/// assert_eq!(WeightDecay::<f64>::coupled(0.1).apply(&mut p, g), 1.2);
/// WeightDecay::<f64>::new(0.5, 0.1, true).apply(&mut p, g);
/// assert_eq!(p, 2.0 * 0.95);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct WeightDecay<T> {
    /// λ added to the gradient times θ (0: none).
    pub l2: T,
    /// Factor θ is multiplied by before the step (1: none).
    pub decay: T,
}

impl<T: Element> WeightDecay<T> {
    /// Coupled (`decoupled == false`: λ on the gradient) or decoupled
    /// (θ scaled by 1 − αλ) weight decay `weight_decay` at learning rate `lr`.
    pub fn new(lr: f64, weight_decay: f64, decoupled: bool) -> Self {
        if decoupled {
            WeightDecay {
                l2: T::ZERO,
                decay: T::from_f64(1.0 - lr * weight_decay),
            }
        } else {
            Self::coupled(weight_decay)
        }
    }

    /// L2 weight decay λ on the gradient.
    pub fn coupled(weight_decay: f64) -> Self {
        WeightDecay {
            l2: T::from_f64(weight_decay),
            decay: T::ONE,
        }
    }

    /// Applies it to one element: scales `p` (decoupled) and returns the
    /// gradient with the L2 term (coupled).
    #[inline(always)]
    pub fn apply(&self, p: &mut T, g: T) -> T {
        let mut g = g;
        if self.l2 != T::ZERO {
            g += *p * self.l2;
        }
        if self.decay != T::ONE {
            *p *= self.decay;
        }
        g
    }
}
