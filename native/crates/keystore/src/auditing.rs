//! The key store's audit trail: events appended as they happen, decrypt/encrypt calls counted in
//! memory (`audit::Counters`) and flushed periodically.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::audit::{Event, OK};
use crate::keystore::{lock, Inner};
use crate::store::{AuditQuery, AuditRecord};
use crate::{AppKeyStore, Error, Result};

impl AppKeyStore {
    /// Audit records, newest first (pending counters are flushed first).
    pub async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>> {
        self.ensure_open()?;
        self.flush_audit().await?;
        self.inner.store.audit(query).await
    }

    /// Writes pending decrypt/encrypt counters now.
    pub async fn flush_audit(&self) -> Result<()> {
        flush(&self.inner).await
    }

    pub(crate) fn spawn_audit_flusher(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = self.inner.audit_flush_interval.max(Duration::from_millis(100));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { break };
                if inner.closed.load(Ordering::Acquire) {
                    break;
                }
                let due = lock(&inner.counters).due(interval);
                if due {
                    // A failed flush keeps its counts for the next one.
                    let _ = flush(&inner).await;
                }
            }
        });
    }

    /// Counts a call in memory; whether the counters are due for a flush.
    fn add_count(
        &self,
        actor: &str,
        action: &'static str,
        app_id: &str,
        room_id: Option<&str>,
        outcome: &'static str,
    ) -> bool {
        let mut counters = lock(&self.inner.counters);
        let minute = counters.add(actor, action, app_id, room_id, outcome);
        counters.due_at(self.inner.audit_flush_interval, minute)
    }

    pub(crate) async fn count_ok(&self, actor: &str, action: &'static str, app_id: &str, room_id: &str) {
        if self.add_count(actor, action, app_id, Some(room_id), OK) {
            // The call succeeded; counts of a failed flush are kept and retried.
            let _ = flush(&self.inner).await;
        }
    }

    /// Counts a failed call and hands its error back.
    pub(crate) async fn count(
        &self,
        actor: &str,
        action: &'static str,
        app_id: &str,
        room_id: Option<&str>,
        error: Error,
    ) -> Error {
        if self.add_count(actor, action, app_id, room_id, error.code()) {
            let _ = flush(&self.inner).await;
        }
        error
    }

    /// [`Self::count_ok`] for a caller that must not wait: the periodic flusher writes it.
    pub(crate) fn count_now_ok(&self, actor: &str, action: &'static str, app_id: &str, room_id: &str) {
        self.add_count(actor, action, app_id, Some(room_id), OK);
    }

    /// [`Self::count`] for a caller that must not wait: the periodic flusher writes it.
    pub(crate) fn count_now(
        &self,
        actor: &str,
        action: &'static str,
        app_id: &str,
        room_id: Option<&str>,
        error: Error,
    ) -> Error {
        self.add_count(actor, action, app_id, room_id, error.code());
        error
    }

    pub(crate) fn event<'a>(
        &self,
        actor: &'a str,
        action: &'static str,
        app_id: Option<&'a str>,
        room_id: Option<&'a str>,
    ) -> Event<'a> {
        Event { actor, action, app_id, room_id, kid: None, detail: None }
    }

    pub(crate) async fn append(&self, event: &Event<'_>, outcome: &str) -> Result<()> {
        self.inner.store.append_audit(&event.record(outcome)).await
    }

    /// Appends the outcome of `result` and returns it; a failed audit write fails a
    /// successful operation (whose change is made: the operations are idempotent to retry).
    pub(crate) async fn audited<T>(&self, event: Event<'_>, result: Result<T>) -> Result<T> {
        let outcome = match &result {
            Ok(_) => OK,
            Err(error) => error.code(),
        };
        let written = self.append(&event, outcome).await;
        let value = result?;
        written.map(|()| value)
    }
}

pub(crate) async fn flush(inner: &Inner) -> Result<()> {
    let counts = lock(&inner.counters).take();
    if counts.is_empty() {
        return Ok(());
    }
    let result = inner.store.add_audit_counts(&counts).await;
    if result.is_err() {
        lock(&inner.counters).restore(counts);
    }
    result
}
