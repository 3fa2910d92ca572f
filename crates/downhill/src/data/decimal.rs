//! Reading a cell as an `f64`: the decimals tables are made of (`-0.123456`,
//! `42`, `1.5e3`) on a short path, everything else by `str::parse`. The
//! value is always the one `str::parse::<f64>` gives, bit for bit.

/// Exact powers of ten, `10^0 ..= 10^22` (all representable in an `f64`).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// `s` read as `s.parse::<f64>()` reads it (`None` where that fails).
pub(crate) fn parse_f64(s: &str) -> Option<f64> {
    match short_decimal(s.as_bytes()) {
        Some(x) => Some(x),
        None => s.parse::<f64>().ok(),
    }
}

/// The value of `b` if it is a plain decimal, `[+-]digits[.digits][(e|E)[+-]digits]`
/// with 1 to 19 digits before the exponent, which make an integer m ≤ 2^53,
/// and a power of ten e within ±22: then m and 10^|e| are exact in an
/// `f64` and one multiplication or division rounds correctly (Clinger's
/// fast path), as `str::parse` does. `None` for anything else, which the
/// caller hands to `str::parse`.
fn short_decimal(b: &[u8]) -> Option<f64> {
    scan_decimal(b, 0).and_then(|(x, end)| (end == b.len()).then_some(x))
}

/// The plain decimal that starts at `b[i]` (as [`short_decimal`] reads
/// one) and where it ends: the value is the one `str::parse` gives the text
/// `b[i..end]`. `None` if there is none or it is outside the short path.
pub(crate) fn scan_decimal(b: &[u8], mut i: usize) -> Option<(f64, usize)> {
    let first = *b.get(i)?;
    let negative = first == b'-';
    i += usize::from(negative || first == b'+');
    let mut mantissa: u64 = 0;
    let start = i;
    i = digits_into(b, i, &mut mantissa);
    let mut digits = i - start;
    let mut exponent: i32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let fraction = i;
        i = digits_into(b, i, &mut mantissa);
        digits += i - fraction;
        // At most 19 digits (checked below), so this fits.
        exponent = -((i - fraction) as i32);
    }
    // 19 digits stay below 2^64: no wrap happened.
    if digits == 0 || digits > 19 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative_exponent = b.get(i) == Some(&b'-');
        i += usize::from(negative_exponent || b.get(i) == Some(&b'+'));
        let start = i;
        let mut e: i32 = 0;
        while let Some(d) = digit(b, i) {
            if i - start == 4 {
                return None;
            }
            e = e * 10 + d as i32;
            i += 1;
        }
        if i == start {
            return None;
        }
        exponent += if negative_exponent { -e } else { e };
    }
    if mantissa > 1 << 53 || !(-22..=22).contains(&exponent) {
        return None;
    }
    let m = mantissa as f64;
    let value = if exponent >= 0 {
        m * POW10[exponent as usize]
    } else {
        m / POW10[exponent.unsigned_abs() as usize]
    };
    Some((if negative { -value } else { value }, i))
}

/// Reads the run of digits at `b[i]` into `mantissa` (`mantissa · 10 +
/// digit` each, wrapping: the caller rejects more than 19 digits); where the
/// run ends. Eight bytes at a time where the buffer has them.
fn digits_into(b: &[u8], mut i: usize, mantissa: &mut u64) -> usize {
    while let Some(word) = b.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let run = leading_digits(word);
        if run == 0 {
            return i;
        }
        *mantissa = mantissa
            .wrapping_mul(POW10_U64[run])
            .wrapping_add(eight_digits(word, run));
        i += run;
        if run < 8 {
            return i;
        }
    }
    while let Some(d) = digit(b, i) {
        *mantissa = mantissa.wrapping_mul(10).wrapping_add(d);
        i += 1;
    }
    i
}

/// `10^0 ..= 10^8` as integers.
const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// How many of the eight bytes of `word` (first byte lowest) are ASCII
/// digits before the first one that is not.
fn leading_digits(word: u64) -> usize {
    const LANES: u64 = 0x0101_0101_0101_0101;
    // A byte is a digit iff its high nibble is 3, before and after adding 6
    // (which carries out of the nibble for `:` to `?`). A carry out of a
    // byte of 0xFA or more only disturbs the bytes after that non-digit.
    let high = word & (0xF0 * LANES);
    let shifted = word.wrapping_add(6 * LANES) & (0xF0 * LANES);
    let off = (high ^ (0x30 * LANES)) | (shifted ^ (0x30 * LANES));
    // Bit 7 of each byte: any of its bits 4 to 7 set in `off`.
    let mut t = off | (off << 2);
    t |= t << 1;
    ((t & (0x80 * LANES)).trailing_zeros() / 8) as usize
}

/// The number the first `run` bytes of `word` (ASCII digits, first byte the
/// most significant) make, `1 <= run <= 8`.
fn eight_digits(word: u64, run: usize) -> u64 {
    const LANES: u64 = 0x0101_0101_0101_0101;
    // The digits' values, moved up so the `8 - run` bytes below are zeros:
    // leading zeros of an eight-digit number.
    let mut v = (word.wrapping_sub(0x30 * LANES)) << (8 * (8 - run));
    // Pairs, then fours, then all eight (each step: 10ⁿ · first + second).
    v = (v.wrapping_mul(1 + (10 << 8))) >> 8;
    v = ((v & 0x00FF_00FF_00FF_00FF).wrapping_mul(1 + (100 << 16))) >> 16;
    ((v & 0x0000_FFFF_0000_FFFF).wrapping_mul(1 + (10_000 << 32))) >> 32
}

/// The digit at `b[i]`, if there is one.
#[inline(always)]
fn digit(b: &[u8], i: usize) -> Option<u64> {
    let d = b.get(i)?.wrapping_sub(b'0');
    (d <= 9).then_some(u64::from(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short path agrees with `str::parse` wherever it answers, and
    /// `parse_f64` agrees everywhere.
    fn agrees(s: &str) {
        let std = s.parse::<f64>().ok();
        if let Some(x) = short_decimal(s.as_bytes()) {
            assert_eq!(
                Some(x.to_bits()),
                std.map(f64::to_bits),
                "short path on {s:?}"
            );
        }
        assert_eq!(
            parse_f64(s).map(f64::to_bits),
            std.map(f64::to_bits),
            "{s:?}"
        );
    }

    #[test]
    fn plain_decimals_take_the_short_path() {
        for s in [
            "-0.123456",
            "42",
            "1.5e3",
            "+.5",
            "5.",
            "0.000123",
            "-0",
            "1E-5",
        ] {
            assert!(short_decimal(s.as_bytes()).is_some(), "{s}");
            agrees(s);
        }
    }

    #[test]
    fn everything_else_reads_as_str_parse_reads_it() {
        for s in [
            "",
            ".",
            "+",
            "-",
            "e5",
            "1e",
            "1e+",
            "-.e1",
            "5.e3",
            "1e0400",
            "0e999",
            "inf",
            "-Infinity",
            "NaN",
            "nan",
            "1_000",
            " 1",
            "1 ",
            "0x10",
            "1.2.3",
            "1e-400",
            "12345678901234567890",
            "1234567890123456789",
            "0.0000000000000000000001",
            "9007199254740993",
            "9007199254740992",
            "1e23",
            "1e22",
            "0.1e-22",
            "123456789012345678e-5",
            "00000000000000000000001.5",
            "1.7976931348623157e308",
            "4.9e-324",
            "٣",
        ] {
            agrees(s);
        }
    }

    #[test]
    fn generated_decimals_agree_with_str_parse() {
        let mut g = crate::Generator::new(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: u64| g.below(n);
        for _ in 0..200_000 {
            let int: String = (0..next(12))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let frac: String = (0..next(14))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let sign = ["", "-", "+"][next(3) as usize];
            let mut s = format!("{sign}{int}");
            if next(2) == 0 {
                s.push('.');
                s.push_str(&frac);
            }
            if next(4) == 0 {
                s.push_str(&format!("e{}", next(60) as i64 - 30));
            }
            agrees(&s);
        }
    }
}
