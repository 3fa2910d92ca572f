//! TFRecord framing, the container of TensorBoard's event files: each record
//! is `len: u64 LE`, `masked_crc32c(len bytes): u32 LE`, `data`,
//! `masked_crc32c(data): u32 LE`, where
//! `masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8` (TensorFlow's
//! `core/lib/hash/crc32c.h`).

/// TensorFlow's mask over a CRC-32C, so that a CRC of data holding CRCs
/// does not collapse.
pub fn masked_crc32c(bytes: &[u8]) -> u32 {
    let c = crc32c::crc32c(bytes);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends `data` as one record to `out`.
pub fn append_record(out: &mut Vec<u8>, data: &[u8]) {
    let len = (data.len() as u64).to_le_bytes();
    out.reserve(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// Why [`read_records`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordsEnd {
    /// At the end of the bytes, after a complete record (or none).
    Clean,
    /// The last record is cut short (a file still being written, or a crash):
    /// the bytes from `offset` on are incomplete.
    Truncated {
        /// Where the incomplete record starts.
        offset: usize,
    },
    /// A length or data CRC does not match at `offset` (a damaged file).
    Corrupt {
        /// Where the damaged record starts.
        offset: usize,
    },
}

/// The complete, checksum-valid records at the start of `bytes`, and why
/// reading stopped. Reading stops at the first incomplete or damaged record,
/// as TensorBoard's reader does.
///
/// ```
/// use downhill::train::tensorboard::{append_record, read_records, RecordsEnd};
///
/// let mut file = Vec::new();
/// append_record(&mut file, b"first");
/// append_record(&mut file, b"second");
/// let cut = &file[..file.len() - 3];
/// let (records, end) = read_records(cut);
/// assert_eq!(records, vec![&b"first"[..]]);
/// assert!(matches!(end, RecordsEnd::Truncated { .. }));
/// ```
pub fn read_records(bytes: &[u8]) -> (Vec<&[u8]>, RecordsEnd) {
    let mut records = Vec::new();
    let mut at = 0usize;
    loop {
        let rest = &bytes[at..];
        if rest.is_empty() {
            return (records, RecordsEnd::Clean);
        }
        if rest.len() < 12 {
            return (records, RecordsEnd::Truncated { offset: at });
        }
        let (len_bytes, tail) = rest.split_at(8);
        let len_crc = u32::from_le_bytes(tail[..4].try_into().expect("4 bytes"));
        if masked_crc32c(len_bytes) != len_crc {
            return (records, RecordsEnd::Corrupt { offset: at });
        }
        let len = u64::from_le_bytes(len_bytes.try_into().expect("8 bytes"));
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(16))
            .filter(|&e| e <= rest.len())
        else {
            return (records, RecordsEnd::Truncated { offset: at });
        };
        let data = &rest[12..end - 4];
        let data_crc = u32::from_le_bytes(rest[end - 4..end].try_into().expect("4 bytes"));
        if masked_crc32c(data) != data_crc {
            return (records, RecordsEnd::Corrupt { offset: at });
        }
        records.push(data);
        at += end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_crc_matches_tensorflow() {
        // crc32c("") = 0, so the masked value is the mask's delta; the
        // second value is TensorFlow's masked CRC of the 8-byte length 0
        // written by `tf.io.TFRecordWriter` for an empty record.
        assert_eq!(masked_crc32c(b""), 0xa282_ead8);
        let mut rec = Vec::new();
        append_record(&mut rec, b"");
        assert_eq!(&rec[8..12], &masked_crc32c(&[0u8; 8]).to_le_bytes());
        // CRC-32C check value of "123456789" is 0xe3069283.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(
            masked_crc32c(b"123456789"),
            0xe306_9283u32.rotate_right(15).wrapping_add(0xa282_ead8)
        );
    }

    #[test]
    fn a_flipped_bit_is_reported_as_corrupt() {
        let mut file = Vec::new();
        append_record(&mut file, b"abc");
        append_record(&mut file, b"defg");
        let second = 3 + 16;
        file[second + 13] ^= 1;
        let (records, end) = read_records(&file);
        assert_eq!(records, vec![&b"abc"[..]]);
        assert_eq!(end, RecordsEnd::Corrupt { offset: second });
    }
}
