//! Fuzzes the expression parser of `downhill minimize`: any UTF-8 input must
//! parse or fail with an error, never panic or overflow the stack, and a
//! parsed expression must evaluate (to any f64) at a few points and build
//! its gradient.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = downhill_cli::expr::parse(src) else {
        return;
    };
    let n = expr.variables().len();
    for v in [0.0, 1.0, -2.5, 1e300, f64::NAN] {
        let _ = expr.value(&vec![v; n]);
    }
    // Too few values read as 0.
    let _ = expr.value(&[]);
    // The autograd graph and its gradient.
    let xs: Vec<downhill::Tensor> = (0..n)
        .map(|_| downhill::Tensor::scalar(0.5f64).requires_grad_(true))
        .collect();
    let _ = expr.eval_tensor(&xs).backward();
});
