//! The NPY format's pieces: the header dict parser, dtypes, and element
//! conversion (used by [`super::npy`]).

/// The fields of an NPY header.
#[derive(Debug, PartialEq)]
pub(super) struct Header {
    pub descr: String,
    pub fortran_order: bool,
    pub shape: Vec<usize>,
}

/// A value in the header dict.
#[derive(Debug, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Int(usize),
    Tuple(Vec<usize>),
    None,
}

/// A hand-written parser of the header's Python dict literal; `base` is the
/// header's offset in the file, for messages.
struct HeaderParser<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl HeaderParser<'_> {
    fn error(&self, what: &str) -> String {
        format!(
            "malformed NPY header at byte {}: {what}",
            self.base + self.pos
        )
    }

    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.bytes.get(self.pos) {
            if c.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                return Some(c);
            }
        }
        None
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.error("expected a quoted string")),
        };
        self.pos += 1;
        let start = self.pos;
        while let Some(&c) = self.bytes.get(self.pos) {
            if c == quote {
                let s = &self.bytes[start..self.pos];
                self.pos += 1;
                // Latin-1 (versions 1 and 2) or UTF-8 (version 3).
                return Ok(match std::str::from_utf8(s) {
                    Ok(s) => s.to_string(),
                    Err(_) => s.iter().map(|&b| char::from(b)).collect(),
                });
            }
            self.pos += if c == b'\\' { 2 } else { 1 };
        }
        Err(self.error("unterminated string"))
    }

    fn int(&mut self) -> Result<usize, String> {
        let start = self.pos;
        let mut n: usize = 0;
        while let Some(&c) = self.bytes.get(self.pos).filter(|c| c.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(usize::from(c - b'0')))
                .ok_or_else(|| self.error("dimension too large"))?;
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error("expected a non-negative integer"));
        }
        if self.bytes.get(self.pos) == Some(&b'L') {
            self.pos += 1; // Python 2 long
        }
        Ok(n)
    }

    fn word(&mut self, word: &str) -> bool {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(Value::Str(self.string()?)),
            Some(b'(') => {
                self.pos += 1;
                let mut dims = Vec::new();
                loop {
                    if self.eat(b')') {
                        return Ok(Value::Tuple(dims));
                    }
                    dims.push(self.int()?);
                    if !self.eat(b',') && self.peek() != Some(b')') {
                        return Err(self.error("expected ',' or ')' in the shape"));
                    }
                }
            }
            Some(b'0'..=b'9') => Ok(Value::Int(self.int()?)),
            Some(b'[') => Err(self.error("structured dtypes are not supported")),
            Some(_) if self.word("True") => Ok(Value::Bool(true)),
            Some(_) if self.word("False") => Ok(Value::Bool(false)),
            Some(_) if self.word("None") => Ok(Value::None),
            Some(_) => Err(self.error("unexpected character")),
            None => Err(self.error("unexpected end")),
        }
    }
}

pub(super) fn parse_header(bytes: &[u8], base: usize) -> Result<Header, String> {
    let mut p = HeaderParser {
        bytes,
        pos: 0,
        base,
    };
    if !p.eat(b'{') {
        return Err(p.error("expected '{'"));
    }
    let (mut descr, mut fortran_order, mut shape) = (None, None, None);
    loop {
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        if !p.eat(b':') {
            return Err(p.error("expected ':'"));
        }
        let at = p.pos;
        let value = p.value()?;
        let wrong = |what: &str| {
            format!(
                "malformed NPY header at byte {}: {key} must be {what}",
                base + at
            )
        };
        match key.as_str() {
            "descr" => match value {
                Value::Str(s) => descr = Some(s),
                _ => return Err(wrong("a string")),
            },
            "fortran_order" => match value {
                Value::Bool(b) => fortran_order = Some(b),
                _ => return Err(wrong("True or False")),
            },
            "shape" => match value {
                Value::Tuple(dims) => shape = Some(dims),
                Value::Int(d) => shape = Some(vec![d]),
                _ => return Err(wrong("a tuple of integers")),
            },
            _ => {} // unknown keys are ignored
        }
        if !p.eat(b',') && p.peek() != Some(b'}') {
            return Err(p.error("expected ',' or '}'"));
        }
    }
    let missing = |key: &str| format!("malformed NPY header at byte {base}: no {key:?} key");
    Ok(Header {
        descr: descr.ok_or_else(|| missing("descr"))?,
        fortran_order: fortran_order.ok_or_else(|| missing("fortran_order"))?,
        shape: shape.ok_or_else(|| missing("shape"))?,
    })
}

/// The element kinds supported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Kind {
    Float,
    Int,
    Uint,
    Bool,
}

/// Kind, item size and big-endianness of a dtype descr.
pub(super) fn dtype(descr: &str) -> Option<(Kind, usize, bool)> {
    let (big, rest) = match descr.as_bytes().first()? {
        b'<' | b'=' | b'|' => (
            cfg!(target_endian = "big") && !descr.starts_with('<'),
            &descr[1..],
        ),
        b'>' => (true, &descr[1..]),
        _ => (cfg!(target_endian = "big"), descr),
    };
    let (kind, size) = match rest {
        "f4" => (Kind::Float, 4),
        "f8" => (Kind::Float, 8),
        "i1" => (Kind::Int, 1),
        "i2" => (Kind::Int, 2),
        "i4" => (Kind::Int, 4),
        "i8" => (Kind::Int, 8),
        "u1" => (Kind::Uint, 1),
        "u2" => (Kind::Uint, 2),
        "u4" => (Kind::Uint, 4),
        "u8" => (Kind::Uint, 8),
        "b1" | "?" => (Kind::Bool, 1),
        _ => return None,
    };
    Some((kind, size, big))
}

fn array<const N: usize>(chunk: &[u8], big: bool) -> [u8; N] {
    let mut a = [0u8; N];
    let n = chunk.len().min(N);
    a[..n].copy_from_slice(&chunk[..n]);
    if big {
        a.reverse();
    }
    a // now little-endian
}

/// Converts raw elements (`data.len()` a multiple of `size`) to `f64`.
pub(super) fn convert(data: &[u8], kind: Kind, size: usize, big: bool) -> Vec<f64> {
    let chunks = data.chunks_exact(size);
    match (kind, size) {
        (Kind::Float, 4) => chunks
            .map(|c| f64::from(f32::from_le_bytes(array(c, big))))
            .collect(),
        (Kind::Float, _) => chunks.map(|c| f64::from_le_bytes(array(c, big))).collect(),
        (Kind::Int, 1) => chunks.map(|c| f64::from(c[0] as i8)).collect(),
        (Kind::Int, 2) => chunks
            .map(|c| f64::from(i16::from_le_bytes(array(c, big))))
            .collect(),
        (Kind::Int, 4) => chunks
            .map(|c| f64::from(i32::from_le_bytes(array(c, big))))
            .collect(),
        (Kind::Int, _) => chunks
            .map(|c| i64::from_le_bytes(array(c, big)) as f64)
            .collect(),
        (Kind::Uint, 1) => chunks.map(|c| f64::from(c[0])).collect(),
        (Kind::Uint, 2) => chunks
            .map(|c| f64::from(u16::from_le_bytes(array(c, big))))
            .collect(),
        (Kind::Uint, 4) => chunks
            .map(|c| f64::from(u32::from_le_bytes(array(c, big))))
            .collect(),
        (Kind::Uint, _) => chunks
            .map(|c| u64::from_le_bytes(array(c, big)) as f64)
            .collect(),
        (Kind::Bool, _) => chunks.map(|c| f64::from(u8::from(c[0] != 0))).collect(),
    }
}

/// Reorders Fortran-order values (first index fastest) into C order.
pub(super) fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    let nd = shape.len();
    let mut stride = vec![1usize; nd];
    for k in 1..nd {
        stride[k] = stride[k - 1].saturating_mul(shape[k - 1]);
    }
    let mut out = Vec::with_capacity(data.len());
    let mut index = vec![0usize; nd];
    let mut offset = 0usize;
    for _ in 0..data.len() {
        out.push(data.get(offset).copied().unwrap_or(f64::NAN));
        // Odometer: the last index moves fastest in C order.
        for k in (0..nd).rev() {
            index[k] += 1;
            offset = offset.wrapping_add(stride[k]);
            if index[k] < shape[k] {
                break;
            }
            offset = offset.wrapping_sub(stride[k].wrapping_mul(shape[k]));
            index[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_dict() {
        let h = parse_header(
            b"{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }  \n",
            10,
        )
        .unwrap();
        assert_eq!(
            h,
            Header {
                descr: "<f8".into(),
                fortran_order: false,
                shape: vec![3, 4]
            }
        );
        let h = parse_header(
            b"{\"shape\":(),\"descr\":\"|u1\",\"fortran_order\":True}",
            10,
        )
        .unwrap();
        assert_eq!(h.shape, Vec::<usize>::new());
        assert!(h.fortran_order);
        assert_eq!(
            parse_header(
                b"{'shape': (5,), 'descr': '<i4', 'fortran_order': False}",
                0
            )
            .unwrap()
            .shape,
            [5]
        );
        for bad in [
            &b"{'descr': '<f8'"[..],
            b"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}",
            b"",
            b"{'shape': (99999999999999999999999,)}",
        ] {
            assert!(parse_header(bad, 10).is_err());
        }
    }

    #[test]
    fn dtypes() {
        assert_eq!(dtype("<f4"), Some((Kind::Float, 4, false)));
        assert_eq!(dtype(">i8"), Some((Kind::Int, 8, true)));
        assert_eq!(dtype("|b1"), Some((Kind::Bool, 1, false)));
        assert_eq!(dtype("|O"), None);
        assert_eq!(dtype("<c16"), None);
        assert_eq!(dtype(""), None);
    }

    #[test]
    fn fortran_order_3d() {
        // shape (2, 3, 2): C value at (i, j, k) = 100i + 10j + k.
        let shape = [2, 3, 2];
        let mut f = vec![0.0; 12];
        for i in 0..2 {
            for j in 0..3 {
                for k in 0..2 {
                    f[i + 2 * j + 6 * k] = (100 * i + 10 * j + k) as f64;
                }
            }
        }
        let c = fortran_to_c(&f, &shape);
        assert_eq!(
            c,
            [0., 1., 10., 11., 20., 21., 100., 101., 110., 111., 120., 121.]
        );
    }
}
