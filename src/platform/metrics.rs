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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One series: its name, kind and help text.
#[derive(Clone, Copy, Debug)]
pub struct Series {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// The platform's own series; each surface declares its own beside its code.
pub const SERIES: &[Series] = &[
    Series {
        name: "ivr_http_requests_total",
        kind: Kind::Counter,
        help: "HTTP requests answered, by route pattern, method and status",
    },
    Series {
        name: "ivr_http_request_duration_seconds",
        kind: Kind::Histogram,
        help: "Time to answer an HTTP request, by route pattern",
    },
    Series {
        name: "ivr_db_pool_connections",
        kind: Kind::Gauge,
        help: "The serving pool's connections, by state (idle, in_use)",
    },
    Series {
        name: "ivr_group_commit_batches_total",
        kind: Kind::Counter,
        help: "Batches committed, by writer (journal, sms_finish)",
    },
    Series {
        name: "ivr_group_commit_items_total",
        kind: Kind::Counter,
        help: "Items in those batches, by writer: items / batches is the mean batch size",
    },
    Series {
        name: "ivr_build_info",
        kind: Kind::Gauge,
        help: "Always 1, labelled with the running version",
    },
];

/// Describes `series` (`# HELP`, `# TYPE`), for the recorder installed by [`handle`].
pub fn describe(series: &[Series]) {
    for series in series {
        let (name, help) = (series.name, series.help);
        match series.kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
}

/// Registers a group-commit writer's series at zero, so they show before its first batch.
pub fn register_writer(writer: &'static str) {
    metrics::counter!("ivr_group_commit_batches_total", "writer" => writer).increment(0);
    metrics::counter!("ivr_group_commit_items_total", "writer" => writer).increment(0);
}

fn register_platform_series() {
    describe(SERIES);
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
        register_platform_series();
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

/// The exposition text, with the pool gauges refreshed first (surfaces
/// refresh their own scrape-time gauges before calling this).
pub fn render(pool: &PgPool) -> String {
    let handle = handle();
    metrics::gauge!("ivr_db_pool_connections", "state" => "idle").set(pool.num_idle() as f64);
    metrics::gauge!("ivr_db_pool_connections", "state" => "in_use")
        .set((pool.size() as usize - pool.num_idle()) as f64);
    handle.render()
}
