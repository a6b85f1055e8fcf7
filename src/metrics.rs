//! Prometheus metrics (`GET /metrics`): one recorder per process, fed through
//! the `metrics` facade where things happen, plus gauges read at scrape time.
//! Every series is listed once, in [`SERIES`], described (`# HELP`) and, where
//! its labels are known in advance, registered at zero when the recorder is
//! installed, so a scrape shows it before anything has happened (the HTTP
//! series, labelled by route and status, appear with the first request).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

use crate::db::calls::Outcome;
use crate::group_commit::{BatchStatement, JournalCalls};
use crate::outbox::Queue;
use crate::sms::queue::{self, SmsOutbox};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every series: name, kind, help text.
pub const SERIES: &[(&str, Kind, &str)] = &[
    (
        "ivr_http_requests_total",
        Kind::Counter,
        "HTTP requests answered, by route pattern, method and status",
    ),
    (
        "ivr_http_request_duration_seconds",
        Kind::Histogram,
        "Time to answer an HTTP request, by route pattern",
    ),
    ("ivr_calls_total", Kind::Counter, "Hook calls journaled, by outcome"),
    (
        "ivr_sms_queued_total",
        Kind::Counter,
        "Welcome SMS queued by this process",
    ),
    (
        "ivr_sms_delivered_total",
        Kind::Counter,
        "SMS attempts recorded as delivered by this process's worker",
    ),
    (
        "ivr_sms_failed_total",
        Kind::Counter,
        "SMS given up (permanent error or attempts spent) by this process's worker",
    ),
    (
        "ivr_sms_retried_total",
        Kind::Counter,
        "SMS attempts that ended in a retry, by this process's worker",
    ),
    (
        "ivr_sms_outbox_queued",
        Kind::Gauge,
        "SMS waiting in the outbox (all replicas), read at scrape time",
    ),
    (
        "ivr_sms_outbox_due",
        Kind::Gauge,
        "Queued SMS due now (all replicas), read at scrape time",
    ),
    (
        "ivr_sms_outbox_oldest_due_age_seconds",
        Kind::Gauge,
        "How long the oldest due SMS has waited, read at scrape time",
    ),
    (
        "ivr_db_pool_connections",
        Kind::Gauge,
        "The serving pool's connections, by state (idle, in_use)",
    ),
    (
        "ivr_group_commit_batches_total",
        Kind::Counter,
        "Batches committed, by writer (journal, sms_finish)",
    ),
    (
        "ivr_group_commit_items_total",
        Kind::Counter,
        "Items in those batches, by writer: items / batches is the mean batch size",
    ),
    (
        "ivr_build_info",
        Kind::Gauge,
        "Always 1, labelled with the running version",
    ),
];

/// Describes every series and registers those whose labels are known.
fn register_series() {
    for &(name, kind, help) in SERIES {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
    let sms = &crate::outbox::counters::SMS_METRICS;
    for name in ["ivr_sms_queued_total", sms.delivered, sms.failed, sms.retried] {
        metrics::counter!(name).increment(0);
    }
    for outcome in Outcome::ALL {
        metrics::counter!("ivr_calls_total", "outcome" => outcome.as_str()).increment(0);
    }
    for writer in [JournalCalls::NAME, SmsOutbox::FINISH_WRITER] {
        metrics::counter!("ivr_group_commit_batches_total", "writer" => writer).increment(0);
        metrics::counter!("ivr_group_commit_items_total", "writer" => writer).increment(0);
    }
    metrics::gauge!("ivr_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// Latency buckets, in seconds: the hook answers in milliseconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process-wide recorder on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("ivr_http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed, which nothing here does.
        let _ = metrics::set_global_recorder(recorder);
        spawn_upkeep(handle.clone());
        register_series();
        handle
    })
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The recorder keeps every histogram sample until it is folded into the
/// buckets, which otherwise happens only on a scrape: unscraped, it held
/// every request's latency (+50 MiB over a benchmark). A thread of its own,
/// as the recorder may be installed before any runtime exists.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the metrics upkeep thread; histograms fold on scrape only");
    }
}

/// The exposition text, with the scrape-time gauges refreshed first. The
/// queue gauges are skipped (left at their last value) if the database
/// does not answer.
pub async fn render(pool: &PgPool, db_timeout: std::time::Duration) -> String {
    let handle = handle();
    metrics::gauge!("ivr_db_pool_connections", "state" => "idle").set(pool.num_idle() as f64);
    metrics::gauge!("ivr_db_pool_connections", "state" => "in_use")
        .set((pool.size() as usize - pool.num_idle()) as f64);
    if let Ok(Ok(stats)) = tokio::time::timeout(db_timeout, queue::stats(pool)).await {
        metrics::gauge!("ivr_sms_outbox_queued").set(stats.queued as f64);
        metrics::gauge!("ivr_sms_outbox_due").set(stats.due as f64);
        metrics::gauge!("ivr_sms_outbox_oldest_due_age_seconds").set(stats.oldest_due_age.as_secs_f64());
    }
    handle.render()
}
