//! `GET /admin/events`: calls and SMS status changes, live.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::watch;

use crate::helpers::*;

/// Reads `(event, data)` frames off an SSE body until `count` have arrived.
async fn next_frames(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Unpin),
    buffer: &mut String,
    count: usize,
) -> Vec<(String, Value)> {
    next_frames_of(body, buffer, count, &["call", "sms"]).await
}

/// The next `count` frames whose event is one of `kinds`; others are skipped
/// (the messaging side's frames interleave with calls and SMS).
pub async fn next_frames_of(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Unpin),
    buffer: &mut String,
    count: usize,
    kinds: &[&str],
) -> Vec<(String, Value)> {
    let mut frames = Vec::new();
    while frames.len() < count {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let mut event = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_owned());
                } else if let Some(json) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(json).unwrap());
                }
            }
            if let (Some(event), Some(data)) = (event, data)
                && kinds.contains(&event.as_str())
            {
                frames.push((event, data));
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("an event within 10 s");
        buffer.push_str(std::str::from_utf8(&chunk.unwrap().unwrap()).unwrap());
    }
    frames
}

/// Subscribes to `/admin/events`: the body stream and its read buffer.
pub async fn subscribe(
    app: &TestApp,
) -> (
    impl futures_util::Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Unpin,
    String,
) {
    let response = app
        .client
        .get(format!("{}/admin/events", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    (response.bytes_stream(), String::new())
}

#[tokio::test]
async fn subscribers_see_calls_and_every_sms_status_change() {
    let app = spawn_app().await;
    let (mut body, mut buffer) = subscribe(&app).await;

    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    app.call("wrong-key", CALLER, ACME_SF).await;
    let mut frames = next_frames(&mut body, &mut buffer, 3).await;
    // A call and the SMS it queued commit together: either may come first.
    frames[..2].sort_by(|a, b| b.0.cmp(&a.0));
    let kinds: Vec<(&str, &str)> = frames
        .iter()
        .map(|(event, data)| {
            (
                event.as_str(),
                data.get("outcome")
                    .or(data.get("status"))
                    .and_then(Value::as_str)
                    .unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("sms", "queued"), ("call", "dial"), ("call", "invalid_key")]);
    let (_, call) = &frames[1];
    assert_eq!(
        (call["from"].as_str(), call["store"].as_str()),
        (Some(CALLER), Some("Acme San Francisco"))
    );
    assert_eq!(call["sms_id"], frames[0].1["id"]);

    let worker = capture_worker(&app, Duration::from_millis(10));
    let (_keep, mut shutdown) = watch::channel(false);
    worker.run_batch(&mut shutdown).await.unwrap();
    let frames = next_frames(&mut body, &mut buffer, 1).await;
    assert_eq!(frames[0].0, "sms");
    assert_eq!(
        (frames[0].1["status"].as_str(), frames[0].1["attempts"].as_i64()),
        (Some("delivered"), Some(1))
    );
    assert!(frames[0].1["delivered_at"].is_string());
}

#[tokio::test]
async fn events_need_the_admin_token_when_one_is_set() {
    let app = spawn_app_with(TestSettings {
        admin_token: Some("t0ken"),
        ..Default::default()
    })
    .await;
    app.request(reqwest::Method::GET, "/admin/events")
        .await
        .assert_json(401, r#"{"authorization":"Missing or invalid bearer token"}"#);
    let response = app
        .client
        .get(format!("{}/admin/events", app.address))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn each_sms_frame_reports_the_status_of_its_own_change_not_the_latest() {
    let app = spawn_app().await;
    let (mut body, mut buffer) = subscribe(&app).await;

    // Queued and delivered in one commit: both notices arrive after the row
    // already says `delivered`, as when a worker delivers at once.
    let mut tx = app.pool.begin().await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO sms_outbox (id, organization_id, store_id, from_number, to_number, body)
         VALUES (gen_random_uuid(), 1, 1, '+14151234567', '+14151234560', 'Hi') RETURNING id",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query("UPDATE sms_outbox SET status = 'delivered', delivered_at = now(), attempts = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let frames = next_frames(&mut body, &mut buffer, 2).await;
    let seen: Vec<(&str, &str, bool)> = frames
        .iter()
        .map(|(event, data)| {
            (
                event.as_str(),
                data["status"].as_str().unwrap(),
                data["delivered_at"].is_string(),
            )
        })
        .collect();
    assert_eq!(seen, [("sms", "queued", false), ("sms", "delivered", true)]);
    assert!(frames.iter().all(|(_, data)| data["id"] == id.to_string()));
}
