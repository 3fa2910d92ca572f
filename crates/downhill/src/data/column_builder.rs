//! [`Builder`]: one column of a [`Frame`](super::Frame) being read, numbers
//! until a cell is not one, then dictionary-encoded text.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::decimal::parse_f64;
use super::frame::{Column, ColumnValues, Frame, TextColumn, MISSING};
use super::target::number_label;

/// A text's code in its column's dictionary, by a fast hash (the texts
/// are the user's own file: no adversary to resist), with the codes of
/// recent short texts (category names) in a small table in front of it.
#[derive(Default)]
pub(crate) struct Index {
    codes: HashMap<String, u32, BuildHasherDefault<WordHasher>>,
    recent: Option<Box<[Recent; RECENT]>>,
}

/// Entries of the table of recent short texts (direct-mapped).
const RECENT: usize = 256;

/// A short text (at most 16 bytes) as two words and its length, and its
/// code (`MISSING` in an empty entry).
#[derive(Clone, Copy, PartialEq)]
struct Recent {
    words: (u64, u64),
    len: usize,
    code: u32,
}

const EMPTY: Recent = Recent {
    words: (0, 0),
    len: 0,
    code: MISSING,
};

/// `s` as two words if it has at most 16 bytes: the same length and words
/// mean the same text. Overlapping loads cover it (its first and last
/// bytes), without copying.
pub(super) fn short_words(s: &[u8]) -> Option<(u64, u64)> {
    let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("eight bytes"));
    let half = |b: &[u8]| u64::from(u32::from_le_bytes(b.try_into().expect("four bytes")));
    let n = s.len();
    Some(match n {
        0 => (0, 0),
        1..=3 => (
            u64::from(s[0]) | u64::from(s[n / 2]) << 8 | u64::from(s[n - 1]) << 16,
            0,
        ),
        4..=7 => (half(&s[..4]) | half(&s[n - 4..]) << 32, 0),
        8..=16 => (word(&s[..8]), word(&s[n - 8..])),
        _ => return None,
    })
}

impl Index {
    /// The code of `s`, if it has one.
    fn get(&mut self, s: &str) -> Option<u32> {
        let Some(words) = short_words(s.as_bytes()) else {
            return self.codes.get(s).copied();
        };
        let slot = Self::slot(words, s.len());
        let table = self.recent.get_or_insert_with(|| Box::new([EMPTY; RECENT]));
        let r = table[slot];
        if r.words == words && r.len == s.len() && r.code != MISSING {
            return Some(r.code);
        }
        let code = self.codes.get(s).copied()?;
        table[slot] = Recent {
            words,
            len: s.len(),
            code,
        };
        Some(code)
    }

    /// Gives the new text `s` the code `code`.
    fn insert(&mut self, s: String, code: u32) {
        self.codes.insert(s, code);
    }

    /// The table entry of a short text.
    fn slot((a, b): (u64, u64), len: usize) -> usize {
        let h = (a ^ b.rotate_left(29) ^ len as u64).wrapping_mul(WordHasher::SEED);
        (h >> 56) as usize % RECENT
    }
}

/// A multiply-rotate hash over 8-byte words (the Fx hash of Firefox and
/// rustc): a few cycles for a short category name, where SipHash takes tens.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

impl WordHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One column being read: numbers until a cell is not one, then text.
pub(crate) enum Builder {
    Numbers(Vec<f64>),
    Text {
        codes: Vec<u32>,
        dictionary: Vec<String>,
        index: Index,
        /// Present cells that were numbers before the column turned to text.
        from_numbers: usize,
    },
}

impl Builder {
    /// A column that starts as text (every cell is kept as written), with
    /// room for `rows` cells.
    pub(crate) fn text_with_capacity(rows: usize) -> Builder {
        Builder::Text {
            codes: Vec::with_capacity(rows),
            dictionary: Vec::new(),
            index: Index::default(),
            from_numbers: 0,
        }
    }

    /// A numeric column with room for `rows` cells.
    pub(crate) fn numbers_with_capacity(rows: usize) -> Builder {
        Builder::Numbers(Vec::with_capacity(rows))
    }

    /// Present cells read as numbers: all of them for a numeric column,
    /// those before the first text cell for a text one.
    pub(crate) fn numbers_read(&self) -> usize {
        match self {
            Builder::Numbers(v) => v.iter().filter(|x| !x.is_nan()).count(),
            Builder::Text { from_numbers, .. } => *from_numbers,
        }
    }

    fn intern(
        codes: &mut Vec<u32>,
        dictionary: &mut Vec<String>,
        index: &mut Index,
        s: &str,
    ) -> u32 {
        let code = match index.get(s) {
            Some(c) => c,
            None => {
                let c = dictionary.len() as u32;
                dictionary.push(s.to_string());
                index.insert(s.to_string(), c);
                c
            }
        };
        codes.push(code);
        code
    }

    /// Turns a numeric column into text (numbers as [`number_label`]).
    fn to_text(values: &[f64]) -> Builder {
        let mut codes = Vec::with_capacity(values.len() + 1);
        let mut dictionary = Vec::new();
        let mut index = Index::default();
        let mut from_numbers = 0;
        for &v in values {
            if v.is_nan() {
                codes.push(MISSING);
            } else {
                from_numbers += 1;
                Self::intern(&mut codes, &mut dictionary, &mut index, &number_label(v));
            }
        }
        Builder::Text {
            codes,
            dictionary,
            index,
            from_numbers,
        }
    }

    /// Appends a present (not missing) cell; `Err(())` if it is an infinite number.
    pub(crate) fn push(&mut self, cell: &str) -> Result<(), ()> {
        if let Builder::Numbers(v) = self {
            match parse_f64(cell) {
                Some(x) if x.is_infinite() => return Err(()),
                Some(x) => {
                    v.push(x);
                    return Ok(());
                }
                None => *self = Self::to_text(v),
            }
        }
        if let Builder::Text {
            codes,
            dictionary,
            index,
            ..
        } = self
        {
            Self::intern(codes, dictionary, index, cell);
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    /// Appends a number (text columns take its [`number_label`]); `Err(())`
    /// if it is infinite. NaN is missing.
    pub(crate) fn push_number(&mut self, x: f64) -> Result<(), ()> {
        if x.is_infinite() {
            return Err(());
        }
        match self {
            Builder::Numbers(v) => v.push(x),
            Builder::Text { codes, .. } if x.is_nan() => codes.push(MISSING),
            Builder::Text {
                codes,
                dictionary,
                index,
                ..
            } => {
                Self::intern(codes, dictionary, index, &number_label(x));
            }
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    /// Appends numbers ([`Builder::push_number`] each, NaN missing), a
    /// numeric column's in one pass; `Err(())` if one is infinite (the
    /// column is then left with some of them).
    pub(crate) fn extend_numbers(&mut self, xs: impl Iterator<Item = f64>) -> Result<(), ()> {
        match self {
            Builder::Numbers(v) => {
                let from = v.len();
                v.extend(xs);
                if v[from..].iter().any(|x| x.is_infinite()) {
                    return Err(());
                }
            }
            Builder::Text { .. } => {
                for x in xs {
                    self.push_number(x)?;
                }
            }
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    /// [`Builder::push`], remembering in `code` the text's code once the
    /// column is text, so the same text (a dictionary value met again) is
    /// not looked up again.
    pub(crate) fn push_remembered(&mut self, cell: &str, code: &mut Option<u32>) -> Result<(), ()> {
        match (&mut *self, *code) {
            (Builder::Text { codes, .. }, Some(c)) => codes.push(c),
            _ => {
                self.push(cell)?;
                if let Builder::Text { codes, .. } = self {
                    *code = codes.last().copied();
                }
            }
        }
        Ok(())
    }

    /// Takes back the last cell pushed (a dictionary entry it added stays).
    pub(crate) fn pop(&mut self) {
        match self {
            Builder::Numbers(v) => {
                v.pop();
            }
            Builder::Text { codes, .. } => {
                codes.pop();
            }
        }
    }

    pub(crate) fn push_missing(&mut self) {
        match self {
            Builder::Numbers(v) => v.push(f64::NAN),
            Builder::Text { codes, .. } => codes.push(MISSING),
        }
    }

    /// Appends the cells of `next`, the same column read from the rows
    /// that follow. Text codes are renumbered into this column's
    /// dictionary, which stays in order of first appearance; a numeric part
    /// meeting a text part turns into text as [`Builder::push`] would.
    pub(crate) fn append(&mut self, next: Builder) {
        if matches!(self, Builder::Numbers(v) if v.is_empty()) {
            *self = next;
            return;
        }
        match (&mut *self, next) {
            (Builder::Numbers(a), Builder::Numbers(b)) => {
                a.reserve(b.len());
                a.extend_from_slice(&b);
            }
            (Builder::Numbers(a), text @ Builder::Text { .. }) => {
                *self = Self::to_text(a);
                self.append(text);
            }
            (Builder::Text { .. }, Builder::Numbers(b)) => self.append(Self::to_text(&b)),
            (
                Builder::Text {
                    codes,
                    dictionary,
                    index,
                    ..
                },
                Builder::Text {
                    codes: next_codes,
                    dictionary: next_dictionary,
                    ..
                },
            ) => {
                let mut renumber = Vec::with_capacity(next_dictionary.len());
                for s in &next_dictionary {
                    let code = match index.get(s.as_str()) {
                        Some(c) => c,
                        None => {
                            let c = dictionary.len() as u32;
                            dictionary.push(s.clone());
                            index.insert(s.clone(), c);
                            c
                        }
                    };
                    renumber.push(code);
                }
                codes.reserve(next_codes.len());
                codes.extend(next_codes.iter().map(|&c| {
                    if c == MISSING {
                        MISSING
                    } else {
                        renumber[c as usize]
                    }
                }));
            }
        }
    }

    pub(crate) fn finish(self) -> ColumnValues {
        match self {
            Builder::Numbers(v) => ColumnValues::Numbers(v),
            Builder::Text {
                codes, dictionary, ..
            } => ColumnValues::Text(TextColumn { codes, dictionary }),
        }
    }
}

/// The frame the CSV and Parquet readers finish with: one column per
/// name and builder, in file order (positions from 1).
pub(crate) fn frame_from_builders(
    path: &std::path::Path,
    names: Vec<String>,
    builders: Vec<Builder>,
    rows: usize,
    lines: Option<Vec<usize>>,
    header_line: usize,
) -> Frame {
    let columns = names
        .into_iter()
        .zip(builders)
        .enumerate()
        .map(|(i, (name, b))| Column {
            name,
            position: i + 1,
            values: b.finish(),
        })
        .collect();
    Frame {
        path: path.to_path_buf(),
        columns,
        rows,
        lines,
        header_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts of every length up to 20 that differ in one byte (a NUL too)
    /// get distinct codes, the same text the same code, through the table
    /// of recent texts and after it evicts them.
    #[test]
    fn interning_gives_one_code_per_text() {
        let mut texts: Vec<String> = vec![String::new()];
        for len in 1..=20 {
            for k in 0..len {
                for b in [b'a', b'b', 0] {
                    let mut t = vec![b'a'; len];
                    t[k] = b;
                    texts.push(String::from_utf8(t).unwrap());
                }
            }
        }
        let mut b = Builder::text_with_capacity(0);
        let mut expected: HashMap<&str, u32> = HashMap::new();
        for round in 0..3 {
            for (i, t) in texts.iter().enumerate() {
                // In the second round a different order, to mix the table.
                let t = if round == 1 {
                    &texts[texts.len() - 1 - i]
                } else {
                    t
                };
                b.push(t).unwrap();
                let Builder::Text { codes, .. } = &b else {
                    panic!("text after the first non-number")
                };
                let next = expected.len() as u32;
                let code = *expected.entry(t.as_str()).or_insert(next);
                assert_eq!(*codes.last().unwrap(), code, "{t:?}");
            }
        }
    }
}
