//! Audit helpers: building records, and the in-memory aggregation of decrypt/encrypt calls into
//! one counter per (app, room, action, outcome, minute), flushed with `$inc` upserts. A call
//! never writes a record of its own: per-message work stays in memory.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::clock::now_ms;

use crate::store::{AuditCount, AuditRecord};

pub const OK: &str = "ok";
/// Actor of operations the host makes on its own behalf (identity creation, rotation, rekey).
pub const SYSTEM: &str = "system";

pub mod action {
    pub const IDENTITY_CREATE: &str = "identity.create";
    pub const IDENTITY_RECREATE: &str = "identity.recreate";
    pub const IDENTITY_REVOKE: &str = "identity.revoke";
    pub const ROTATE_BEGIN: &str = "identity.rotate.begin";
    pub const ROTATE_REWRAP: &str = "identity.rotate.rewrap";
    pub const ROTATE_PUBLISH: &str = "identity.rotate.publish";
    pub const ROTATE_COMMIT: &str = "identity.rotate.commit";
    pub const KEK_REKEY: &str = "kek.rekey";
    pub const KEK_RETIRE: &str = "kek.retire";
    pub const GRANT: &str = "authorization.grant";
    pub const REVOKE: &str = "authorization.revoke";
    pub const ROOM_KEY_ACCEPT: &str = "room_key.accept";
    /// A suggested key (current or old) refused, or a provisional key a message disproved.
    pub const ROOM_KEY_REJECT: &str = "room_key.reject";
    /// A provisional key settled by another sender's message.
    pub const ROOM_KEY_CONFIRM: &str = "room_key.confirm";
    pub const ROOM_KEY_LOAD: &str = "room_key.load";
    pub const MESSAGE_DECRYPT: &str = "message.decrypt";
    pub const CONTENT_DECRYPT: &str = "content.decrypt";
    pub const CONTENT_ENCRYPT: &str = "content.encrypt";
}

/// One event to append; `outcome` is `"ok"` or an error code.
pub struct Event<'a> {
    pub actor: &'a str,
    pub action: &'static str,
    pub app_id: Option<&'a str>,
    pub room_id: Option<&'a str>,
    pub kid: Option<&'a str>,
    pub detail: Option<String>,
}

impl Event<'_> {
    pub fn record(&self, outcome: &str) -> AuditRecord {
        AuditRecord {
            // Time-ordered ids break ties between records of the same millisecond.
            id: uuid::Uuid::now_v7().to_string(),
            ts: now_ms(),
            actor: self.actor.to_owned(),
            action: self.action.to_owned(),
            app_id: self.app_id.map(str::to_owned),
            room_id: self.room_id.map(str::to_owned),
            kid: self.kid.map(printable),
            outcome: outcome.to_owned(),
            detail: self.detail.clone(),
            count: None,
        }
    }
}

/// Longest kid kept in an audit record, in characters.
const MAX_AUDIT_KID_CHARS: usize = 64;

/// A kid as an audit record keeps it: kids come from room members, so anything but printable
/// ASCII becomes `?` (no control characters, no bidirectional overrides in a log viewer) and a
/// long one is cut, marked with `...`. Real kids (UUIDs, 12 base64 characters) pass unchanged.
pub fn printable(kid: &str) -> String {
    let mut out: String =
        kid.chars().take(MAX_AUDIT_KID_CHARS).map(|c| if c.is_ascii_graphic() { c } else { '?' }).collect();
    if kid.chars().nth(MAX_AUDIT_KID_CHARS).is_some() {
        out.push_str("...");
    }
    out
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct CounterKey {
    minute: i64,
    actor: String,
    action: &'static str,
    app_id: String,
    /// `None` for calls refused before the room was known to be authorized: an app looping
    /// over random room ids adds to one counter per app, not one document per id.
    room_id: Option<String>,
    outcome: &'static str,
}

/// Pending counts, not yet in the store.
pub struct Counters {
    pending: HashMap<CounterKey, i64>,
    /// The key counted last and its calls not yet added to `pending`: the next call is almost
    /// always the same app, room and outcome, so it is counted with a few comparisons, without
    /// hashing or allocating a key.
    last: Option<(CounterKey, i64)>,
    /// The earliest minute among the pending counts (`last` included), so that "is a minute
    /// over" needs no pass over them.
    oldest_minute: Option<i64>,
    last_flush: Instant,
}

impl Counters {
    pub fn new() -> Self {
        Self { pending: HashMap::new(), last: None, oldest_minute: None, last_flush: Instant::now() }
    }

    /// Counts one call; returns the minute it was counted in (for [`Counters::due_at`]).
    pub fn add(
        &mut self,
        actor: &str,
        action: &'static str,
        app_id: &str,
        room_id: Option<&str>,
        outcome: &'static str,
    ) -> i64 {
        let minute = now_ms() / 60_000 * 60_000;
        if let Some((last, count)) = &mut self.last {
            let same = last.minute == minute
                && last.action == action
                && last.outcome == outcome
                && last.actor == actor
                && last.app_id == app_id
                && last.room_id.as_deref() == room_id;
            if same {
                *count += 1;
                return minute;
            }
        }
        self.settle_last();
        let key = CounterKey {
            minute,
            actor: actor.to_owned(),
            action,
            app_id: app_id.to_owned(),
            room_id: room_id.map(str::to_owned),
            outcome,
        };
        self.last = Some((key, 1));
        self.oldest_minute = Some(self.oldest_minute.map_or(minute, |oldest| oldest.min(minute)));
        minute
    }

    /// Moves the calls held in `last` into `pending`.
    fn settle_last(&mut self) {
        if let Some((key, count)) = self.last.take() {
            *self.pending.entry(key).or_insert(0) += count;
        }
    }

    /// Whether pending counts should go to the store now: the interval passed, or a count's
    /// minute is over.
    pub fn due(&self, interval: Duration) -> bool {
        self.due_at(interval, now_ms() / 60_000 * 60_000)
    }

    /// [`Counters::due`] with the current minute already known.
    pub fn due_at(&self, interval: Duration, minute: i64) -> bool {
        match self.oldest_minute {
            None => false,
            Some(oldest) => oldest < minute || self.last_flush.elapsed() >= interval,
        }
    }

    pub fn take(&mut self) -> Vec<AuditCount> {
        self.settle_last();
        self.last_flush = Instant::now();
        self.oldest_minute = None;
        self.pending
            .drain()
            .map(|(key, count)| AuditCount {
                minute: key.minute,
                actor: key.actor,
                action: key.action.to_owned(),
                app_id: key.app_id,
                room_id: key.room_id,
                outcome: key.outcome.to_owned(),
                count,
            })
            .collect()
    }

    /// Puts back counts whose flush failed, to be retried with the next one.
    pub fn restore(&mut self, counts: Vec<AuditCount>) {
        for count in counts {
            let (Some(action), Some(outcome)) = (static_action(&count.action), static_code(&count.outcome)) else {
                continue;
            };
            let key = CounterKey {
                minute: count.minute,
                actor: count.actor,
                action,
                app_id: count.app_id,
                room_id: count.room_id,
                outcome,
            };
            self.oldest_minute = Some(self.oldest_minute.map_or(key.minute, |oldest| oldest.min(key.minute)));
            *self.pending.entry(key).or_insert(0) += count.count;
        }
    }
}

fn static_action(action: &str) -> Option<&'static str> {
    [action::MESSAGE_DECRYPT, action::CONTENT_DECRYPT, action::CONTENT_ENCRYPT].into_iter().find(|a| *a == action)
}

fn static_code(code: &str) -> Option<&'static str> {
    std::iter::once(OK)
        .chain(crate::Error::ALL_CODES)
        .chain(rc_e2ee_core::Error::ALL_CODES)
        .find(|known| *known == code)
}
