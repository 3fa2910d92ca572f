//! NPY and NPZ reading.
