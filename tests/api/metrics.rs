//! `GET /metrics`: every named series appears after traffic.

use std::time::Duration;

use ivr_gateway::surfaces::instaply_ivr::sms::transport::{MAGIC_INVALID_NUMBER, MAGIC_TRANSIENT_TWICE};
use tokio::sync::watch;

use crate::helpers::*;

/// The value of the first sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample for {series} in:\n{text}"))
}

#[tokio::test]
async fn metrics_expose_requests_latency_calls_sms_queue_pool_and_build() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    app.call(ACME_KEY, MAGIC_INVALID_NUMBER, ACME_SF).await;
    app.call(ACME_KEY, MAGIC_TRANSIENT_TWICE, ACME_SF).await;
    app.call("nope", CALLER, ACME_SF).await;
    app.call(ACME_KEY, CALLER, "+14155550000").await;
    app.get("").await;
    let worker = capture_worker(&app, Duration::from_secs(3600));
    worker.run_batch(&mut watch::channel(false).1).await.unwrap();

    let answer = app.request(reqwest::Method::GET, "/metrics").await;
    assert_eq!(
        (answer.status, answer.content_type.as_str()),
        (200, "text/plain; version=0.0.4; charset=utf-8")
    );
    let text = answer.body;
    for outcome in ["dial", "invalid_key", "not_linked", "invalid_request"] {
        assert!(
            sample(&text, &format!("ivr_calls_total{{outcome=\"{outcome}\"}}")) >= 1.0,
            "{outcome}"
        );
    }
    assert!(
        sample(
            &text,
            r#"ivr_http_requests_total{route="/v1/ivr",method="GET",status="200"}"#
        ) >= 4.0
    );
    assert!(
        sample(
            &text,
            r#"ivr_http_requests_total{route="/v1/ivr",method="GET",status="403"}"#
        ) >= 1.0
    );
    assert!(
        sample(
            &text,
            r#"ivr_http_request_duration_seconds_bucket{route="/v1/ivr",le="+Inf"}"#
        ) >= 6.0
    );
    assert!(sample(&text, r#"ivr_http_request_duration_seconds_count{route="/v1/ivr"}"#) >= 6.0);
    assert!(sample(&text, "ivr_sms_queued_total") >= 3.0);
    assert!(sample(&text, "ivr_sms_delivered_total") >= 1.0);
    assert!(sample(&text, "ivr_sms_failed_total") >= 1.0);
    assert!(sample(&text, "ivr_sms_retried_total") >= 1.0);
    for (writer, written) in [("journal", 6.0), ("sms_finish", 3.0)] {
        let batches = sample(&text, &format!("ivr_group_commit_batches_total{{writer=\"{writer}\"}}"));
        let items = sample(&text, &format!("ivr_group_commit_items_total{{writer=\"{writer}\"}}"));
        assert!(
            batches >= 1.0 && items >= written && items >= batches,
            "{writer}: {items} in {batches}"
        );
    }
    // This app's own outbox: the flaky SMS waits an hour for its retry.
    assert_eq!(sample(&text, "ivr_sms_outbox_queued"), 1.0);
    assert_eq!(sample(&text, "ivr_sms_outbox_due"), 0.0);
    assert!(sample(&text, "ivr_sms_outbox_oldest_due_age_seconds") >= 0.0);
    assert!(sample(&text, r#"ivr_db_pool_connections{state="idle"}"#) >= 0.0);
    assert!(sample(&text, r#"ivr_db_pool_connections{state="in_use"}"#) >= 0.0);
    assert_eq!(
        sample(
            &text,
            &format!("ivr_build_info{{version=\"{}\"}}", env!("CARGO_PKG_VERSION"))
        ),
        1.0
    );
    assert!(
        !text.contains("/admin/organizations/1"),
        "routes are labelled by pattern, never by path"
    );
}

#[tokio::test]
async fn every_series_is_described_and_shown_before_anything_happens() {
    use ivr_gateway::platform::metrics::{self, Kind};
    use ivr_gateway::surfaces::{infobip, instaply_ivr, instaply_messaging};
    let app = spawn_app().await;
    // HTTP series are labelled by route and status, known once a request has
    // been answered; everything else is there from the start.
    app.request(reqwest::Method::GET, "/healthz").await;
    let text = app.request(reqwest::Method::GET, "/metrics").await.body;
    for series in metrics::SERIES
        .iter()
        .chain(instaply_ivr::metrics::SERIES)
        .chain(instaply_messaging::metrics::SERIES)
        .chain(infobip::metrics::SERIES)
    {
        let (name, help) = (series.name, series.help);
        assert!(
            text.contains(&format!("# HELP {name} {help}\n")),
            "no HELP for {name}:\n{text}"
        );
        let kind = match series.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        assert!(text.contains(&format!("# TYPE {name} {kind}\n")), "no TYPE for {name}");
    }
    // Counters with known labels exist before they first move.
    for series in [
        "ivr_sms_failed_total",
        "ivr_calls_total{outcome=\"invalid_signature\"}",
        "ivr_group_commit_batches_total{writer=\"sms_finish\"}",
        "ivr_infobip_reports_delivered_total",
        "ivr_group_commit_batches_total{writer=\"infobip_report_finish\"}",
    ] {
        assert!(sample(&text, series) >= 0.0, "{series}");
    }
}
