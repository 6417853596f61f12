//! Checks on the ids callers pass: app ids are Apps-Engine app ids (UUIDs); the others (room,
//! user, kid) are opaque, but bounded and printable.

use crate::{Error, Result};

/// Longest id (app, room, user, kid) accepted, in bytes.
const MAX_ID_BYTES: usize = 512;
pub(crate) const BAD_APP_ID: &str = "app id must be an Apps-Engine app id (a UUID such as app.json's id)";
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

/// An Apps-Engine app id: the UUID of the app's `app.json` (`8-4-4-4-12` hex digits). Checked
/// strictly so that a room or user id passed in its place (arguments swapped) is refused rather
/// than stored as a grant or an identity nobody can use.
pub(crate) fn check_app_id(value: &str) -> Result<()> {
    let shaped = value.len() == 36
        && value.bytes().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        });
    if !shaped {
        return Err(Error::BadInput(BAD_APP_ID));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ids_are_uuids_and_nothing_else() {
        for good in ["646b8e7d-f1e1-419e-9478-10d0f5bc74d9", "646B8E7D-F1E1-419E-9478-10D0F5BC74D9"] {
            assert!(check_app_id(good).is_ok(), "{good}");
        }
        let bad = [
            "",
            "GENERAL",
            "bot-app",
            "646b8e7d-f1e1-419e-9478-10d0f5bc74d",
            "646b8e7d-f1e1-419e-9478-10d0f5bc74d9a",
            "646b8e7df1e1419e947810d0f5bc74d9",
            "646b8e7d_f1e1_419e_9478_10d0f5bc74d9",
            "646b8e7d-f1e1-419e-9478-10d0f5bc74dg",
            "646b8e7d-f1e1-419e-9478-10d0f5bc74\u{e9}",
            " 46b8e7d-f1e1-419e-9478-10d0f5bc74d9",
        ];
        for bad in bad {
            assert!(matches!(check_app_id(bad), Err(Error::BadInput(BAD_APP_ID))), "{bad:?}");
        }
    }
}
