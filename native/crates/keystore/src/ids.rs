//! Checks on the ids callers pass (app, room, user, kid): opaque, but bounded and printable.

use crate::{Error, Result};

/// Longest id (app, room, user, kid) accepted, in bytes.
const MAX_ID_BYTES: usize = 512;
pub(crate) const BAD_APP_ID: &str = "app id is empty, too long or has control characters";
pub(crate) const BAD_ROOM_ID: &str = "room id is empty, too long or has control characters";
pub(crate) const BAD_ACTOR_ID: &str = "actor id is empty, too long or has control characters";
pub(crate) const BAD_APP_USER_ID: &str = "app user id is empty, too long or has control characters";
pub(crate) const BAD_KID: &str = "expected kid is empty, too long or has control characters";

/// Ids are opaque but bounded, non-empty and free of control characters (they end up in
/// documents, audit records and filters). `problem` is the error message.
pub(crate) fn check_id(value: &str, problem: &'static str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_ID_BYTES || value.chars().any(char::is_control) {
        return Err(Error::BadInput(problem));
    }
    Ok(())
}
