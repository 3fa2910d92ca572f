//! downhill: gradient descent on the CPU.
#![warn(missing_docs)]

pub mod schedule;
