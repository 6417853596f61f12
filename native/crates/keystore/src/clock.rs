//! Wall-clock time as stored in documents and audit records: milliseconds since the epoch. Its
//! own module so the storage layer and the audit can both use it without importing each other.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch; 0 before 1970, `i64::MAX` past year 292 million.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
