//! Prometheus metrics (`GET /metrics`): one recorder per process, fed through
//! the `metrics` facade where things happen, plus gauges read at scrape time.
//!
//! Series: `ivr_http_requests_total{route,method,status}`,
//! `ivr_http_request_duration_seconds{route}`, `ivr_calls_total{outcome}`,
//! `ivr_sms_queued_total`, `ivr_sms_delivered_total`, `ivr_sms_failed_total`,
//! `ivr_sms_retried_total`, `ivr_sms_outbox_queued`, `ivr_sms_outbox_due`,
//! `ivr_sms_outbox_oldest_due_age_seconds`, `ivr_db_pool_connections{state}`,
//! `ivr_group_commit_batches_total{writer}`, `ivr_group_commit_items_total{writer}`,
//! `ivr_build_info{version}`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

use crate::sms::queue;

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
        metrics::gauge!("ivr_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
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
