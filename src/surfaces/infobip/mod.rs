//! Infobip voice (docs/infobip.md): App and Basic authentication with
//! Infobip's error shape; IVR scenarios with their scripts checked; launches
//! of outbound IVR to up to 20,000 destinations, each call placed on the
//! emulator's clock (scheduled, paced, retried, expired) and played by the
//! call simulator; delivery reports pushed through the outbox and pullable.

/// A scenario's script and its rules.
pub mod scenario;
/// The SQL of accounts and scenarios.
pub mod storage;
/// A launch's body: checked, clamped.
pub mod launch;
/// The SQL of launches and the call queue.
pub mod calls;
/// Places due calls and ends them.
pub mod dialer;
/// A call's fate as a `CallsReport`, and the bodies pushed.
pub mod report;
/// The reports' outbox, its transport, the pull and the listings.
pub mod reports;
/// Report delivery counters for `/metrics`.
pub mod metrics;
/// `/infobip/…`.
pub mod routes;
/// `/admin/infobip/…`.
pub mod admin;

pub use dialer::{CallPlayer, Dialer, OutboundCall, PlayedCall};
pub use report::Pickup;

use std::sync::Arc;

use sqlx::PgPool;

use crate::platform::outbox::{self, DeliveryCounters, RetryPolicy, Worker, WorkerSettings};

/// The worker that pushes reports to their `notifyUrl`.
pub type ReportWorker = Worker<reports::ReportOutbox, reports::ReportPost>;

pub fn report_worker(
    pool: PgPool,
    http_timeout: std::time::Duration,
    retry: RetryPolicy,
    settings: WorkerSettings,
    counters: Arc<DeliveryCounters>,
) -> ReportWorker {
    let transport = reports::ReportPost::new(outbox::http::http_client(http_timeout));
    Worker::new(pool, reports::ReportOutbox, transport, retry, settings, counters)
}
