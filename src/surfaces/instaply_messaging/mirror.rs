//! The background loop that mirrors welcome SMS into threads: woken by the
//! hook's trigger (`NOTIFY welcome_mirror_due`), polling as a fallback.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

use super::storage::mirror::mirror_batch;
use crate::platform::notifications::{Notice, Notifications};

/// Welcome SMS mirrored per transaction.
const BATCH: i64 = 256;
const POLL: Duration = Duration::from_secs(1);

/// Runs until `shutdown` turns true.
pub fn run(
    pool: PgPool,
    notifications: &Notifications,
    mut shutdown: watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let mut due = notifications.subscribe("welcome_mirror_due");
    async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            match mirror_batch(&pool, BATCH).await {
                Ok(taken) if taken as i64 == BATCH => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot mirror welcome SMS into threads yet"),
            }
            let listening = tokio::select! {
                notice = due.recv() => !matches!(notice, None | Some(Notice::Lost)),
                _ = tokio::time::sleep(POLL) => true,
                _ = shutdown.changed() => true,
            };
            if !listening {
                // No notifications for now: poll.
                tokio::time::sleep(POLL).await;
            }
        }
    }
}
