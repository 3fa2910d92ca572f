//! Optimizer flags shared by `train` and `minimize`.
