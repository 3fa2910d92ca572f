//! Unit tests of the expression parser and evaluators.
use super::*;

fn eval(src: &str, vars: &[f64]) -> f64 {
    parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .value(vars)
}

fn err(src: &str) -> (usize, String) {
    let e = parse(src).expect_err(src);
    (e.column, e.message)
}

#[test]
fn numbers() {
    assert_eq!(eval("2", &[]), 2.0);
    assert_eq!(eval("0.5", &[]), 0.5);
    assert_eq!(eval("1e-3", &[]), 1e-3);
    assert_eq!(eval("2.5E+2", &[]), 250.0);
    assert_eq!(eval(".5", &[]), 0.5);
    assert_eq!(eval("5.", &[]), 5.0);
    assert_eq!(eval("pi", &[]), std::f64::consts::PI);
    assert_eq!(eval("e", &[]), std::f64::consts::E);
}

#[test]
fn precedence() {
    assert_eq!(eval("1 + 2 * 3", &[]), 7.0);
    assert_eq!(eval("(1 + 2) * 3", &[]), 9.0);
    assert_eq!(eval("2 * 3 ^ 2", &[]), 18.0);
    assert_eq!(eval("8 / 4 / 2", &[]), 1.0);
    assert_eq!(eval("8 - 4 - 2", &[]), 2.0);
    assert_eq!(eval("1 - 2 + 3", &[]), 2.0);
    assert_eq!(eval("2 * -3", &[]), -6.0);
    assert_eq!(eval("--2", &[]), 2.0);
    assert_eq!(eval("+-+2", &[]), -2.0);
}

#[test]
fn power_is_right_associative_and_tighter_than_unary_minus() {
    assert_eq!(eval("2^3^2", &[]), 512.0);
    assert_eq!(eval("-2^2", &[]), -4.0);
    assert_eq!(eval("-x^2", &[3.0]), -9.0);
    assert_eq!(eval("(-2)^2", &[]), 4.0);
    assert_eq!(eval("2^-1", &[]), 0.5);
    assert_eq!(eval("x^-1", &[4.0]), 0.25);
    assert_eq!(eval("x^y", &[2.0, 10.0]), 1024.0);
    assert_eq!(eval("x^2^y", &[3.0, 1.0]), 9.0);
}

#[test]
fn functions() {
    let x = 0.7f64;
    for (f, want) in [
        ("exp", x.exp()),
        ("log", x.ln()),
        ("ln", x.ln()),
        ("sqrt", x.sqrt()),
        ("abs", x.abs()),
        ("sin", x.sin()),
        ("cos", x.cos()),
        ("tan", x.tan()),
        ("tanh", x.tanh()),
        ("sigmoid", 1.0 / (1.0 + (-x).exp())),
    ] {
        let got = eval(&format!("{f}(x)"), &[x]);
        assert!((got - want).abs() < 1e-15, "{f}: {got} vs {want}");
        // Folded at parse time when the argument is constant.
        let folded = eval(&format!("{f}(0.7)"), &[]);
        assert!((folded - want).abs() < 1e-15, "{f}(0.7): {folded}");
    }
    assert_eq!(eval("abs(-3)", &[]), 3.0);
}

#[test]
fn variables_in_order_of_first_appearance() {
    let e = parse("y*x + y + z_1 + pi*e").unwrap();
    assert_eq!(e.variables(), ["y", "x", "z_1"]);
    assert_eq!(
        e.value(&[2.0, 3.0, 1.0]),
        9.0 + std::f64::consts::PI * std::f64::consts::E
    );
    // Missing values read as 0.
    assert_eq!(e.value(&[]), std::f64::consts::PI * std::f64::consts::E);
}

#[test]
fn whitespace_anywhere() {
    assert_eq!(eval(" \t( 1+\n2 ) *x ", &[2.0]), 6.0);
    assert_eq!(eval("sin ( 0 )", &[]), 0.0);
}

#[test]
fn errors_name_the_column() {
    assert_eq!(err("1 + )"), (5, "unexpected ')'".into()));
    assert_eq!(err("foo(x)"), (1, "unknown function 'foo'".into()));
    assert_eq!(
        err("2*(x+1"),
        (7, "expected ')' to close '(' at column 3".into())
    );
    assert_eq!(
        err("2*(x+1 y"),
        (8, "expected ')' to close '(' at column 3".into())
    );
    assert_eq!(err(""), (1, "empty expression".into()));
    assert_eq!(err("   "), (1, "empty expression".into()));
    assert_eq!(err("x +"), (4, "unexpected end of expression".into()));
    assert_eq!(
        err("x y"),
        (3, "unexpected 'y' (write '*' for a product)".into())
    );
    assert_eq!(err("(x))"), (4, "unexpected ')'".into()));
    assert_eq!(err("x # 2"), (3, "unexpected character '#'".into()));
    assert_eq!(err("x+é"), (3, "unexpected character 'é'".into()));
    assert_eq!(err("1e+"), (1, "malformed number '1e+'".into()));
    assert_eq!(err("1.2.3"), (1, "malformed number '1.2.3'".into()));
    assert_eq!(err("."), (1, "malformed number '.'".into()));
    assert_eq!(
        err("sin x"),
        (5, "expected '(' after function 'sin'".into())
    );
    assert_eq!(
        err("sin(x, y)"),
        (6, "function 'sin' takes one argument".into())
    );
    assert_eq!(err("x * * 2"), (5, "unexpected '*'".into()));
    assert_eq!(
        err("pi(2)"),
        (3, "unexpected '(' (write '*' for a product)".into())
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let ok = format!("{}x{}", "(".repeat(200), ")".repeat(200));
    assert_eq!(eval(&ok, &[3.0]), 3.0);
    let deep = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
    let (_, message) = err(&deep);
    assert!(message.contains("nested too deeply"), "{message}");
    let (_, message) = err(&"-".repeat(100_000));
    assert!(message.contains("nested too deeply"), "{message}");
    let (_, message) = err(&"x^".repeat(100_000));
    assert!(message.contains("nested too deeply"), "{message}");
}

#[test]
fn long_chains_are_bounded() {
    // A left-deep sum evaluates without recursion, gradient included.
    let n = MAX_OPS / 2; // the deepest graph the limits allow
    let src = vec!["x"; n].join("+");
    let e = parse(&src).unwrap();
    assert_eq!(e.value(&[1.0]), n as f64);
    let x = Tensor::scalar(1.0f64).requires_grad_(true);
    let g = e.eval_tensor(std::slice::from_ref(&x)).backward();
    assert_eq!(g.get(&x).unwrap().item(), n as f64);
    let (_, message) = err(&vec!["x"; MAX_OPS + 1].join("+"));
    assert!(message.contains("too long"), "{message}");
}

#[test]
fn constants_fold() {
    let e = parse("2*3 + x^(1+1) - -1").unwrap();
    assert_eq!(e.code.len(), 6, "{:?}", e.code);
    assert!(e.code.contains(&Op::PowConst(2.0)));
}

/// Value and gradient from the tensor graph match `value` and central
/// finite differences.
fn check_gradient(src: &str, at: &[f64]) {
    let e = parse(src).unwrap();
    let xs: Vec<Tensor> = at
        .iter()
        .map(|&v| Tensor::scalar(v).requires_grad_(true))
        .collect();
    let y = e.eval_tensor(&xs);
    let f = e.value(at);
    assert!(
        (y.item() - f).abs() <= 1e-12 * f.abs().max(1.0),
        "{src}: {} vs {f}",
        y.item()
    );
    let grads = y.backward();
    for i in 0..at.len() {
        let h = 1e-6 * at[i].abs().max(1.0);
        let (mut hi, mut lo) = (at.to_vec(), at.to_vec());
        hi[i] += h;
        lo[i] -= h;
        let fd = (e.value(&hi) - e.value(&lo)) / (2.0 * h);
        let g = grads.get(&xs[i]).map_or(0.0, |g| g.item());
        assert!(
            (g - fd).abs() <= 1e-6 * fd.abs().max(1.0),
            "{src} d/d{}: autograd {g} vs finite difference {fd}",
            e.variables()[i]
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    check_gradient("2*x^2", &[1.0]);
    check_gradient("x^2", &[-1.5]);
    check_gradient("x^3", &[-2.0]);
    check_gradient("x^-2", &[-0.5]);
    check_gradient("x^0.5", &[2.0]);
    check_gradient("(1 - x)^2 + 100*(y - x^2)^2", &[-1.2, 1.0]);
    check_gradient("x^y", &[1.5, 2.5]);
    check_gradient("2^x + x^x", &[1.3]);
    check_gradient("exp(x)*sin(y) - log(x)/y + sqrt(x*y)", &[0.8, 1.7]);
    check_gradient(
        "abs(x) + cos(x) + tan(x/2) + tanh(x) + sigmoid(-x)",
        &[-0.4],
    );
    check_gradient("1/x - 3/(x+y) + ln(e*x)", &[0.9, 2.0]);
    check_gradient("-x^2 - (y - 1)^4 + pi*x*y", &[0.3, -0.6]);
}

#[test]
fn the_gradient_at_zero_of_an_integer_power_is_right() {
    let e = parse("x^2 + x^3 + x").unwrap();
    let x = Tensor::scalar(0.0f64).requires_grad_(true);
    let g = e.eval_tensor(std::slice::from_ref(&x)).backward();
    assert_eq!(g.get(&x).unwrap().item(), 1.0);
}

#[test]
fn values_over_many_points_equal_pointwise_values() {
    for src in [
        "(1 - x)^2 + 100*(y - x^2)^2",
        "sin(x)*exp(-y) + x^y",
        "3",
        "x + 0*y",
    ] {
        let e = parse(src).unwrap();
        let xs = [0.5, -1.0, 2.0, 0.0];
        let ys = [1.5, 2.0, -0.5, 3.0];
        let many = e.values(&[&xs, &ys]);
        assert_eq!(many.len(), 4, "{src}");
        for k in 0..4 {
            let one = e.value(&[xs[k], ys[k]]);
            assert!(
                many[k] == one || (many[k].is_nan() && one.is_nan()),
                "{src} at {k}: {} vs {one}",
                many[k]
            );
        }
    }
}
