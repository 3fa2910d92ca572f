//! `model.json`: the model description lives in the library
//! ([`downhill::data::ModelSpec`]) so that Rust programs can load the runs
//! the CLI writes; the CLI uses it from there.

pub use downhill::data::{activation, ModelSpec, ACTIVATIONS};
