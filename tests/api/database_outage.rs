//! The database going away mid-test: 503 JSON at once (never a hang, never a
//! 500), and answers again by itself once the database is back.

use std::time::{Duration, Instant};

use crate::helpers::*;

const UNAVAILABLE: &str = r#"{"service":"Temporarily unavailable"}"#;

#[tokio::test]
async fn the_hook_answers_503_while_the_database_is_away_then_recovers() {
    let db_timeout = Duration::from_secs(1);
    let app = spawn_app_with(TestSettings {
        through_proxy: true,
        db_timeout,
        ..Default::default()
    })
    .await;
    let proxy = app.proxy.as_ref().unwrap();
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);

    proxy.cut().await;
    for (key, to) in [(ACME_KEY, ACME_SF), (ACME_KEY, "+14155550000"), ("unknown", ACME_SF)] {
        let started = Instant::now();
        let answer = app.call(key, CALLER, to).await;
        answer.assert_json(503, UNAVAILABLE);
        assert_eq!(answer.headers["retry-after"], "1");
        // A bound, not a benchmark: far above the 1 s timeout, far below a hang.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
    }
    let answer = app.request(reqwest::Method::GET, "/readyz").await;
    answer.assert_json(503, UNAVAILABLE);

    proxy.restore();
    let recovered = wait_for(Duration::from_secs(15), || async {
        app.call(ACME_KEY, "+14151239999", ACME_SF).await.status == 200
    })
    .await;
    assert!(recovered, "the hook did not recover after the database came back");
    app.request(reqwest::Method::GET, "/readyz")
        .await
        .assert_json(200, r#"{"status":"ready"}"#);

    // Nothing half-written: every SMS belongs to a journaled call.
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sms_outbox s WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.sms_id = s.id)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0);
}

#[tokio::test]
async fn a_request_caught_by_the_cut_mid_flight_is_503_and_leaves_nothing_behind() {
    let app = spawn_app_with(TestSettings {
        through_proxy: true,
        db_timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let proxy = app.proxy.as_ref().unwrap();
    // Hold the store's cool-down row so the hook's transaction blocks inside.
    let blocker = hold_cooldown_row(&app).await;
    let pending = tokio::spawn({
        let client = app.client.clone();
        let url = format!(
            "{}/v1/ivr?key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567",
            app.address
        );
        async move { client.get(url).send().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.cut().await;
    let answer = pending.await.unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.text().await.unwrap(), UNAVAILABLE);
    blocker.rollback().await.unwrap();
    assert_eq!(app.sms_count().await, 0);
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM calls")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(calls, 0);
}
