//! The Instaply messaging side (docs/instaply-messaging.md): customer
//! threads and their messages, the Bot API, webhooks and the legacy hook,
//! with event deliveries through the platform's outbox. The IVR hook's
//! welcome SMS land here, mirrored into their callers' SMS threads.

/// Vocabularies and request values.
pub mod domain;
/// Webhook envelopes and the legacy payload.
pub mod envelopes;
/// The SQL, private to this surface.
pub mod storage;
/// `/api/…` and the admin routes that play the customer.
pub mod routes;
/// How an event delivery is sent.
pub mod transport;
/// Mirroring welcome SMS into threads, in the background.
pub mod mirror;
/// This surface's metrics.
pub mod metrics;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::platform::outbox::{self, DeliveryCounters, RetryPolicy, WorkerSettings};
use storage::deliveries::DeliveryOutbox;
use transport::HttpPost;

/// The worker that drains the event deliveries.
pub type Worker = outbox::Worker<DeliveryOutbox, HttpPost>;

/// How event deliveries are sent and retried.
#[derive(Clone, Copy, Debug)]
pub struct DeliverySettings {
    pub http_timeout: Duration,
    pub retry: RetryPolicy,
    pub worker: WorkerSettings,
}

/// The delivery worker for these settings.
pub fn worker(pool: PgPool, settings: &DeliverySettings, counters: Arc<DeliveryCounters>) -> Worker {
    let transport = HttpPost::new(outbox::http::http_client(settings.http_timeout));
    Worker::new(
        pool,
        DeliveryOutbox,
        transport,
        settings.retry,
        settings.worker,
        counters,
    )
}
