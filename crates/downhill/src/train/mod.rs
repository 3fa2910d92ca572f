//! Training: helpers around the training loop — for now, [`plot`]: training
//! curves and contour plots written as PNG or SVG.

pub mod plot;
