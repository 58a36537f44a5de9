//! The long texts of an assessment (its explanation and its answers per measure) stored
//! compressed.
//!
//! They are JSON that repeats itself (each reason names its cause and legal basis in words), about
//! 2.3 KB a subject, and every rating writes them again: four fifths of each stored
//! assessment. Compressed with LZ4 they take about a third (2.7 to 3.6 times
//! less in a generated registry). PostgreSQL compresses them itself (LZ4, migration 0008); SQLite
//! does not, so this store does it at its edge: the rows the rest of probity reads and writes
//! hold the texts as they are.
//!
//! A packed text is a BLOB: the text's length in four bytes, little-endian, then its LZ4 block.
//! A text that would not get shorter, and every text stored before this, is TEXT, and reads as
//! it is. Packing is deterministic, so equal texts are equal values, which the assessments'
//! upsert relies on to leave a row that did not change unwritten.

use rusqlite::ToSql;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};

/// A text to store packed.
pub(crate) struct Pack<'a>(pub(crate) &'a str);

impl ToSql for Pack<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let packed = lz4_flex::block::compress_prepend_size(self.0.as_bytes());
        Ok(if packed.len() < self.0.len() {
            ToSqlOutput::from(packed)
        } else {
            ToSqlOutput::from(self.0)
        })
    }
}

/// A stored text, packed or not, as it was written.
pub(crate) struct Unpacked(pub(crate) String);

impl FromSql for Unpacked {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        String::from_utf8(UnpackedBytes::column_result(value)?.0)
            .map(Unpacked)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// A stored text, packed or not, as the bytes it was written as: for a reader that decodes only
/// a part of it, and checks only that part as UTF-8.
pub(crate) struct UnpackedBytes(pub(crate) Vec<u8>);

impl FromSql for UnpackedBytes {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Text(text) => Ok(UnpackedBytes(text.to_vec())),
            ValueRef::Blob(packed) => unpack(packed).map(UnpackedBytes),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

/// LZ4 never makes a text more than 255 times shorter; a stored length past that, or past
/// [`LONGEST`], is damage, and is refused before anything is allocated for it.
fn unpack(packed: &[u8]) -> FromSqlResult<Vec<u8>> {
    let damaged = |why: &str| FromSqlError::Other(format!("packed text: {why}").into());
    let (Some(length), Some(block)) = (packed.get(..4), packed.get(4..)) else {
        return Err(damaged("shorter than its length"));
    };
    let length = u32::from_le_bytes(length.try_into().map_err(|_| damaged("no length"))?) as usize;
    if length > LONGEST || length > block.len().saturating_mul(255) {
        return Err(damaged("a length it cannot have"));
    }
    let text = lz4_flex::block::decompress(block, length).map_err(|e| damaged(&e.to_string()))?;
    if text.len() != length {
        return Err(damaged("shorter than its length"));
    }
    Ok(text)
}

/// The longest text stored packed (an explanation is tens of kilobytes at most).
const LONGEST: usize = 64 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> (String, String) {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.query_row("SELECT typeof(?1), ?1", [Pack(text)], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Unpacked>(1)?.0))
        })
        .unwrap()
    }

    #[test]
    fn a_long_text_is_stored_packed_and_read_as_it_was() {
        let text = r#"{"cause":"grade D","basis":"Tax credit rating rules"}"#.repeat(40);
        assert_eq!(round_trip(&text), ("blob".to_owned(), text.clone()));
        let packed = lz4_flex::block::compress_prepend_size(text.as_bytes());
        assert!(packed.len() * 3 < text.len(), "{} bytes packed", packed.len());
    }

    #[test]
    fn a_text_that_would_not_shrink_is_stored_as_text() {
        for text in ["", "{}", "a short answer, é"] {
            assert_eq!(round_trip(text), ("text".to_owned(), text.to_owned()));
        }
    }

    #[test]
    fn a_damaged_packed_text_is_an_error_not_a_text() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for blob in [&[0xff_u8, 0xff, 0xff, 0x7f, 1, 2][..], &[3, 0, 0, 0, 0x30, b'a'][..], &[1]] {
            let read = conn.query_row("SELECT ?1", [blob], |r| r.get::<_, Unpacked>(0));
            assert!(read.is_err(), "{blob:?} read as text");
        }
    }
}
