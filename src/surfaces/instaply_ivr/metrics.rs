//! The hook's metrics: calls by outcome, the welcome SMS and its outbox.

use std::time::Duration;

use sqlx::PgPool;

use crate::platform::group_commit::BatchStatement;
use crate::platform::metrics::{self, Kind, Series};
use crate::platform::outbox::Queue;
use crate::surfaces::instaply_ivr::journal::{JournalCalls, Outcome};
use crate::surfaces::instaply_ivr::sms::queue::{self, SmsOutbox};

pub const SERIES: &[Series] = &[
    Series {
        name: "ivr_calls_total",
        kind: Kind::Counter,
        help: "Hook calls journaled, by outcome",
    },
    Series {
        name: "ivr_sms_queued_total",
        kind: Kind::Counter,
        help: "Welcome SMS queued by this process",
    },
    Series {
        name: "ivr_sms_delivered_total",
        kind: Kind::Counter,
        help: "SMS attempts recorded as delivered by this process's worker",
    },
    Series {
        name: "ivr_sms_failed_total",
        kind: Kind::Counter,
        help: "SMS given up (permanent error or attempts spent) by this process's worker",
    },
    Series {
        name: "ivr_sms_retried_total",
        kind: Kind::Counter,
        help: "SMS attempts that ended in a retry, by this process's worker",
    },
    Series {
        name: "ivr_sms_outbox_queued",
        kind: Kind::Gauge,
        help: "SMS waiting in the outbox (all replicas), read at scrape time",
    },
    Series {
        name: "ivr_sms_outbox_due",
        kind: Kind::Gauge,
        help: "Queued SMS due now (all replicas), read at scrape time",
    },
    Series {
        name: "ivr_sms_outbox_oldest_due_age_seconds",
        kind: Kind::Gauge,
        help: "How long the oldest due SMS has waited, read at scrape time",
    },
];

/// Describes the hook's series and registers those whose labels are known at zero.
pub fn register() {
    metrics::describe(SERIES);
    let sms = &queue::SMS_METRICS;
    for name in ["ivr_sms_queued_total", sms.delivered, sms.failed, sms.retried] {
        ::metrics::counter!(name).increment(0);
    }
    for outcome in Outcome::ALL {
        ::metrics::counter!("ivr_calls_total", "outcome" => outcome.as_str()).increment(0);
    }
    metrics::register_writer(JournalCalls::NAME);
    metrics::register_writer(SmsOutbox::FINISH_WRITER);
}

/// Reads the outbox gauges, skipped (left at their last value) if the
/// database does not answer within `db_timeout`.
pub async fn refresh(pool: &PgPool, db_timeout: Duration) {
    if let Ok(Ok(stats)) = tokio::time::timeout(db_timeout, queue::stats(pool)).await {
        ::metrics::gauge!("ivr_sms_outbox_queued").set(stats.queued as f64);
        ::metrics::gauge!("ivr_sms_outbox_due").set(stats.due as f64);
        ::metrics::gauge!("ivr_sms_outbox_oldest_due_age_seconds").set(stats.oldest_due_age.as_secs_f64());
    }
}
