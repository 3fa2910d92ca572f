//! The expression language of `downhill minimize`: numbers, named variables,
//! `+ - * / ^`, parentheses and one-argument functions.
//!
//! ```
//! use downhill_cli::expr::parse;
//! let e = parse("(1 - x)^2 + 100*(y - x^2)^2").unwrap();
//! assert_eq!(e.variables(), ["x", "y"]);
//! assert_eq!(e.value(&[1.0, 1.0]), 0.0);
//! assert_eq!(e.values(&[&[1.0, 0.0], &[1.0, 0.0]]), [0.0, 1.0]);
//! assert_eq!(parse("2*(x+1").unwrap_err().to_string(),
//!            "column 7: expected ')' to close '(' at column 3");
//! ```
//!
//! Grammar, loosest first: `+ -` (left), `* /` (left), unary `- +`, `^`
//! (right-associative and tighter than unary minus on its left, so
//! `-x^2 = -(x^2)` and `2^-1 = 0.5`). Functions: `exp log ln sqrt abs sin cos
//! tan tanh sigmoid`; constants `pi` and `e`. The parser compiles to postfix
//! code, so evaluating never recurses and deep input cannot overflow the
//! stack; nesting beyond [`MAX_DEPTH`] and more than [`MAX_OPS`] operations
//! are errors.
use downhill::Tensor;
use std::fmt;

/// Deepest nesting of parentheses, unary signs and `^` accepted.
pub const MAX_DEPTH: usize = 256;
/// Most instructions (numbers, variables, operations) in one expression.
pub const MAX_OPS: usize = 10_000;

/// A syntax error: 1-based character column and what is wrong there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// What is wrong, e.g. `unexpected ')'`.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ExprError {}

/// The one-argument functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    Exp,
    Ln,
    Sqrt,
    Abs,
    Sin,
    Cos,
    Tan,
    Tanh,
    Sigmoid,
}

impl Func {
    fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "exp" => Func::Exp,
            "log" | "ln" => Func::Ln,
            "sqrt" => Func::Sqrt,
            "abs" => Func::Abs,
            "sin" => Func::Sin,
            "cos" => Func::Cos,
            "tan" => Func::Tan,
            "tanh" => Func::Tanh,
            "sigmoid" => Func::Sigmoid,
            _ => return None,
        })
    }

    fn f64(self, x: f64) -> f64 {
        match self {
            Func::Exp => x.exp(),
            Func::Ln => x.ln(),
            Func::Sqrt => x.sqrt(),
            Func::Abs => x.abs(),
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Tan => x.tan(),
            Func::Tanh => x.tanh(),
            Func::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        }
    }

    fn tensor(self, x: &Tensor) -> Tensor {
        match self {
            Func::Exp => x.exp(),
            Func::Ln => x.log(),
            Func::Sqrt => x.sqrt(),
            Func::Abs => x.abs(),
            Func::Sin => x.sin(),
            Func::Cos => x.cos(),
            Func::Tan => x.tan(),
            Func::Tanh => x.tanh(),
            Func::Sigmoid => x.sigmoid(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl Bin {
    fn f64(self, a: f64, b: f64) -> f64 {
        match self {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::Pow => pow_f64(a, b),
        }
    }
}

/// `a^b` as the tensor ops compute it (`x·x` for a square).
fn pow_f64(a: f64, b: f64) -> f64 {
    if b == 2.0 {
        a * a
    } else {
        a.powf(b)
    }
}

/// One instruction of the postfix code.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Const(f64),
    Var(usize),
    Neg,
    Bin(Bin),
    /// `x^p` for a constant exponent: `powf`, whose derivative p·xᵖ⁻¹ is
    /// right for negative x when p is an integer.
    PowConst(f64),
    Func(Func),
}

/// A parsed expression: postfix code over numbered variables.
#[derive(Clone, Debug)]
pub struct Expr {
    code: Vec<Op>,
    vars: Vec<String>,
}

/// Parses `src`.
///
/// **Errors** with the column and a message on any malformed input; never
/// panics.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let tokens = lex(src)?;
    if tokens.is_empty() {
        return Err(ExprError {
            column: 1,
            message: "empty expression".into(),
        });
    }
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        code: Vec::new(),
        vars: Vec::new(),
    };
    p.sum()?;
    if let Some(t) = p.tokens.get(p.pos) {
        let mut message = format!("unexpected {}", t.kind.describe());
        let prev = p.tokens[p.pos - 1].kind;
        if matches!(prev, Tok::Num(_) | Tok::Ident(_) | Tok::RParen)
            && matches!(t.kind, Tok::Num(_) | Tok::Ident(_) | Tok::LParen)
        {
            message.push_str(" (write '*' for a product)");
        }
        return Err(p.error_at(p.pos, message));
    }
    Ok(Expr {
        code: p.code,
        vars: p.vars,
    })
}

impl Expr {
    /// The variables in order of first appearance; `eval_*` take their
    /// values in this order.
    pub fn variables(&self) -> Vec<String> {
        self.vars.clone()
    }

    /// The value at `vars` (in the order of [`Expr::variables`]; missing
    /// values read as 0), by [`Expr::eval_tensor`] under `no_grad`.
    pub fn value(&self, vars: &[f64]) -> f64 {
        downhill::no_grad(|| {
            let t: Vec<Tensor> = vars.iter().map(|&v| Tensor::scalar(v)).collect();
            self.eval_tensor(&t).item()
        })
    }

    /// The values at `n` points at once: `columns[i][k]` is variable `i`
    /// at point `k` (every column of length `n`; a missing column reads as
    /// 0). One evaluation of [`Expr::eval_tensor`] over length-`n` tensors
    /// under `no_grad`, so a whole contour grid costs one pass.
    ///
    /// **Panics** if the columns differ in length.
    pub fn values(&self, columns: &[&[f64]]) -> Vec<f64> {
        let n = columns.first().map_or(1, |c| c.len());
        assert!(
            columns.iter().all(|c| c.len() == n),
            "Expr::values: columns of different lengths"
        );
        downhill::no_grad(|| {
            let t: Vec<Tensor> = columns
                .iter()
                .map(|c| Tensor::from_vec(c.to_vec(), &[n]))
                .collect();
            let y = self.eval_tensor(&t).to_vec_f64();
            if y.len() == n {
                y
            } else {
                vec![y.first().copied().unwrap_or(f64::NAN); n]
            }
        })
    }

    /// The value at `vars` (f64 scalar tensors in the order of
    /// [`Expr::variables`]; missing ones read as 0) as an autograd graph, so
    /// `backward()` gives the gradient.
    pub fn eval_tensor(&self, vars: &[Tensor]) -> Tensor {
        /// A constant stays a number so it can use the scalar ops.
        enum Val {
            C(f64),
            T(Tensor),
        }
        fn tensor(v: Val) -> Tensor {
            match v {
                Val::C(c) => Tensor::scalar(c),
                Val::T(t) => t,
            }
        }
        let mut stack: Vec<Val> = Vec::with_capacity(16);
        let nan = || Val::C(f64::NAN);
        for op in &self.code {
            let v = match *op {
                Op::Const(c) => Val::C(c),
                Op::Var(i) => match vars.get(i) {
                    Some(t) => Val::T(t.clone()),
                    None => Val::C(0.0),
                },
                Op::Neg => match stack.pop().unwrap_or_else(nan) {
                    Val::C(c) => Val::C(-c),
                    Val::T(t) => Val::T(t.neg()),
                },
                Op::PowConst(p) => match stack.pop().unwrap_or_else(nan) {
                    Val::C(c) => Val::C(pow_f64(c, p)),
                    Val::T(t) => Val::T(t.powf(p)),
                },
                Op::Func(f) => match stack.pop().unwrap_or_else(nan) {
                    Val::C(c) => Val::C(f.f64(c)),
                    Val::T(t) => Val::T(f.tensor(&t)),
                },
                Op::Bin(b) => {
                    let y = stack.pop().unwrap_or_else(nan);
                    let x = stack.pop().unwrap_or_else(nan);
                    match (b, x, y) {
                        (b, Val::C(x), Val::C(y)) => Val::C(b.f64(x, y)),
                        (Bin::Add, Val::T(x), Val::C(c)) | (Bin::Add, Val::C(c), Val::T(x)) => {
                            Val::T(x.add_scalar(c))
                        }
                        (Bin::Mul, Val::T(x), Val::C(c)) | (Bin::Mul, Val::C(c), Val::T(x)) => {
                            Val::T(x.mul_scalar(c))
                        }
                        (Bin::Sub, Val::T(x), Val::C(c)) => Val::T(x.sub_scalar(c)),
                        (Bin::Sub, Val::C(c), Val::T(x)) => Val::T(x.rsub_scalar(c)),
                        (Bin::Div, Val::T(x), Val::C(c)) => Val::T(x.div_scalar(c)),
                        (Bin::Pow, Val::T(x), Val::C(c)) => Val::T(x.powf(c)),
                        (b, x, y) => {
                            let (x, y) = (tensor(x), tensor(y));
                            Val::T(match b {
                                Bin::Add => &x + &y,
                                Bin::Sub => &x - &y,
                                Bin::Mul => &x * &y,
                                Bin::Div => &x / &y,
                                Bin::Pow => x.pow(&y),
                            })
                        }
                    }
                }
            };
            stack.push(v);
        }
        tensor(stack.pop().unwrap_or_else(nan))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok<'a> {
    Num(f64),
    Ident(&'a str),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    Comma,
}

impl Tok<'_> {
    fn describe(&self) -> String {
        match self {
            Tok::Num(_) => "number".into(),
            Tok::Ident(name) => format!("'{name}'"),
            Tok::Plus => "'+'".into(),
            Tok::Minus => "'-'".into(),
            Tok::Star => "'*'".into(),
            Tok::Slash => "'/'".into(),
            Tok::Caret => "'^'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Token<'a> {
    kind: Tok<'a>,
    /// Byte offset in the source.
    at: usize,
}

/// 1-based character column of byte offset `at`.
fn column(src: &str, at: usize) -> usize {
    src.get(..at).map_or(at, |s| s.chars().count()) + 1
}

fn lex(src: &str) -> Result<Vec<Token<'_>>, ExprError> {
    let bytes = src.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'+' => Tok::Plus,
            b'-' => Tok::Minus,
            b'*' => Tok::Star,
            b'/' => Tok::Slash,
            b'^' => Tok::Caret,
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b',' => Tok::Comma,
            b'0'..=b'9' | b'.' => {
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                    i += 1;
                }
                if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                    // `1e-3`; an `e` not followed by digits is malformed (`2e`).
                    let mut j = i + 1;
                    if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
                        j += 1;
                    }
                    if j < bytes.len() && bytes[j].is_ascii_digit() {
                        while j < bytes.len() && bytes[j].is_ascii_digit() {
                            j += 1;
                        }
                        i = j;
                    } else {
                        return Err(ExprError {
                            column: column(src, start),
                            message: format!("malformed number '{}'", &src[start..j]),
                        });
                    }
                }
                let text = &src[start..i];
                match text.parse::<f64>() {
                    Ok(v) if text != "." => Tok::Num(v),
                    _ => {
                        return Err(ExprError {
                            column: column(src, start),
                            message: format!("malformed number '{text}'"),
                        })
                    }
                }
            }
            b'A'..=b'Z' | b'a'..=b'z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                Tok::Ident(&src[start..i])
            }
            _ => {
                let c = src[start..].chars().next().unwrap_or('?');
                return Err(ExprError {
                    column: column(src, start),
                    message: format!("unexpected character '{c}'"),
                });
            }
        };
        if !matches!(kind, Tok::Num(_) | Tok::Ident(_)) {
            i += 1;
        }
        tokens.push(Token { kind, at: start });
    }
    Ok(tokens)
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    depth: usize,
    code: Vec<Op>,
    vars: Vec<String>,
}

/// Where a subexpression's code starts, and its value if it is constant.
#[derive(Clone, Copy)]
struct Sub {
    start: usize,
    value: Option<f64>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.tokens.get(self.pos).map(|t| t.kind)
    }

    /// Error at token `i` (or at the end of the input).
    fn error_at(&self, i: usize, message: impl Into<String>) -> ExprError {
        let at = self.tokens.get(i).map_or(self.src.len(), |t| t.at);
        ExprError {
            column: column(self.src, at),
            message: message.into(),
        }
    }

    fn emit(&mut self, start: usize, op: Op) -> Result<Sub, ExprError> {
        if self.code.len() >= MAX_OPS {
            return Err(self.error_at(
                self.pos,
                format!("expression too long (more than {MAX_OPS} operations)"),
            ));
        }
        self.code.push(op);
        let value = match op {
            Op::Const(c) => Some(c),
            _ => None,
        };
        Ok(Sub { start, value })
    }

    /// Emits a unary op, folding it into a constant operand.
    fn unary_op(&mut self, a: Sub, op: Op, f: impl Fn(f64) -> f64) -> Result<Sub, ExprError> {
        if let Some(v) = a.value {
            self.code.truncate(a.start);
            return self.emit(a.start, Op::Const(f(v)));
        }
        self.emit(a.start, op)
    }

    /// Emits a binary op, folding constants and constant exponents.
    fn binary_op(&mut self, a: Sub, b: Sub, op: Bin) -> Result<Sub, ExprError> {
        match (a.value, b.value) {
            (Some(x), Some(y)) => {
                self.code.truncate(a.start);
                self.emit(a.start, Op::Const(op.f64(x, y)))
            }
            (None, Some(p)) if op == Bin::Pow => {
                self.code.truncate(b.start);
                self.emit(a.start, Op::PowConst(p))
            }
            _ => self.emit(a.start, Op::Bin(op)),
        }
    }

    fn sum(&mut self) -> Result<Sub, ExprError> {
        let mut a = self.product()?;
        while let Some(op @ (Tok::Plus | Tok::Minus)) = self.peek() {
            self.pos += 1;
            let b = self.product()?;
            a = self.binary_op(a, b, if op == Tok::Plus { Bin::Add } else { Bin::Sub })?;
        }
        Ok(a)
    }

    fn product(&mut self) -> Result<Sub, ExprError> {
        let mut a = self.unary()?;
        while let Some(op @ (Tok::Star | Tok::Slash)) = self.peek() {
            self.pos += 1;
            let b = self.unary()?;
            a = self.binary_op(a, b, if op == Tok::Star { Bin::Mul } else { Bin::Div })?;
        }
        Ok(a)
    }

    /// Unary signs and powers; every nesting level passes here.
    fn unary(&mut self) -> Result<Sub, ExprError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error_at(
                self.pos,
                format!("nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        self.depth += 1;
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Sub, ExprError> {
        match self.peek() {
            Some(Tok::Minus) => {
                self.pos += 1;
                let a = self.unary()?;
                self.unary_op(a, Op::Neg, |v| -v)
            }
            Some(Tok::Plus) => {
                self.pos += 1;
                self.unary()
            }
            _ => {
                let a = self.primary()?;
                if self.peek() == Some(Tok::Caret) {
                    self.pos += 1;
                    let b = self.unary()?;
                    return self.binary_op(a, b, Bin::Pow);
                }
                Ok(a)
            }
        }
    }

    fn primary(&mut self) -> Result<Sub, ExprError> {
        let start = self.code.len();
        let here = self.pos;
        let Some(tok) = self.peek() else {
            return Err(self.error_at(here, "unexpected end of expression"));
        };
        self.pos += 1;
        match tok {
            Tok::Num(v) => self.emit(start, Op::Const(v)),
            Tok::LParen => {
                let inner = self.sum()?;
                self.close(here)?;
                Ok(inner)
            }
            Tok::Ident(name) => {
                if let Some(f) = Func::from_name(name) {
                    if self.peek() != Some(Tok::LParen) {
                        return Err(self
                            .error_at(self.pos, format!("expected '(' after function '{name}'")));
                    }
                    let open = self.pos;
                    self.pos += 1;
                    let arg = self.sum()?;
                    if self.peek() == Some(Tok::Comma) {
                        return Err(self
                            .error_at(self.pos, format!("function '{name}' takes one argument")));
                    }
                    self.close(open)?;
                    return self.unary_op(arg, Op::Func(f), move |v| f.f64(v));
                }
                match name {
                    "pi" => return self.emit(start, Op::Const(std::f64::consts::PI)),
                    "e" => return self.emit(start, Op::Const(std::f64::consts::E)),
                    _ => {}
                }
                if self.peek() == Some(Tok::LParen) {
                    return Err(self.error_at(here, format!("unknown function '{name}'")));
                }
                let i = match self.vars.iter().position(|v| v == name) {
                    Some(i) => i,
                    None => {
                        self.vars.push(name.to_string());
                        self.vars.len() - 1
                    }
                };
                self.emit(start, Op::Var(i))
            }
            other => Err(self.error_at(here, format!("unexpected {}", other.describe()))),
        }
    }

    /// Expects the `)` closing the `(` at token `open`.
    fn close(&mut self, open: usize) -> Result<(), ExprError> {
        if self.peek() == Some(Tok::RParen) {
            self.pos += 1;
            return Ok(());
        }
        let col = column(self.src, self.tokens[open].at);
        Err(self.error_at(
            self.pos,
            format!("expected ')' to close '(' at column {col}"),
        ))
    }
}

#[cfg(test)]
#[path = "expr_tests.rs"]
mod tests;
