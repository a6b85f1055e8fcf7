//! Workers as separate processes against one database: nothing lost, nothing
//! doubled, a killed worker's SMS delivered by the next with the same key.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::helpers::*;
use crate::sink::{Reply, Sink};

/// An `ivr-gateway worker` process delivering to `sink`, killed on drop.
struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(app: &TestApp, sink: &Sink, lease: &str) -> Self {
        let child = Command::new(binary())
            .arg("worker")
            .env("DATABASE_URL", database_url(&app.database))
            .env("IVR_SMS_TRANSPORT", "webhook")
            .env("IVR_SMS_WEBHOOK_URL", format!("{}/sms", sink.url))
            .env("IVR_SMS_WEBHOOK_SECRET", "secret")
            .env("IVR_SMS_LEASE", lease)
            .env("IVR_SMS_HTTP_TIMEOUT", "1s")
            .env("IVR_SMS_RETRY_BASE", "10ms")
            .env("IVR_SMS_POLL_INTERVAL", "100ms")
            .env("IVR_SMS_CONCURRENCY", "32")
            .env("IVR_SMS_BATCH", "256")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill(); // SIGKILL
        let _ = self.0.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Queues `count` SMS straight into the outbox, as a burst of calls would.
async fn queue_bulk(app: &TestApp, count: i64) -> HashSet<String> {
    let store = app.store_id("Acme San Francisco").await;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO sms_outbox (id, organization_id, store_id, from_number, to_number, body)
         SELECT gen_random_uuid(), s.organization_id, s.id, '+14151234567', '+1415' || lpad(g::text, 7, '0'), 'bulk ' || g
         FROM stores s, generate_series(1, $2) g WHERE s.id = $1
         RETURNING id",
    )
    .bind(store)
    .bind(count)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    ids.into_iter().map(|id| id.to_string()).collect()
}

async fn wait_until_delivered(app: &TestApp, count: i64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let delivered: i64 = sqlx::query_scalar("SELECT count(*) FROM sms_outbox WHERE status = 'delivered'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if delivered == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} of {count} delivered in {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn keys_by_count(requests: &[crate::sink::Received]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for request in requests {
        let key = request.header("idempotency-key").unwrap();
        assert_eq!(request.json()["id"], key.as_str(), "the key is the SMS id");
        *counts.entry(key).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn two_worker_processes_drain_10000_sms_each_delivered_exactly_once() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    let ids = queue_bulk(&app, 10_000).await;
    let _first = WorkerProcess::start(&app, &sink, "30s");
    let _second = WorkerProcess::start(&app, &sink, "30s");
    wait_until_delivered(&app, 10_000, Duration::from_secs(180)).await;

    let counts = keys_by_count(&sink.received());
    let arrived: HashSet<String> = counts.keys().cloned().collect();
    assert_eq!(arrived, ids, "every id arrives");
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "delivered twice: {doubled:?}");
}

#[tokio::test]
async fn after_a_sigkill_the_next_worker_delivers_everything_repeating_only_unacknowledged_sends() {
    let app = spawn_app().await;
    // The sink acknowledges the first 200 deliveries, then holds every
    // further request open: the worker dies with those in flight.
    let sink = Sink::start(|_, index| if index < 200 { Reply::Status(200) } else { Reply::Hang });
    let ids = queue_bulk(&app, 1_000).await;
    let mut doomed = WorkerProcess::start(&app, &sink, "3s");
    wait_until_delivered(&app, 200, Duration::from_secs(60)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.received().len() <= 200 {
        assert!(
            Instant::now() < deadline,
            "the worker never got past the acknowledged ones"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    doomed.kill();
    let acknowledged: HashSet<String> = sink
        .acknowledged()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(acknowledged.len(), 200);

    sink.rescript(|_, _| Reply::Status(200));
    let _successor = WorkerProcess::start(&app, &sink, "3s");
    wait_until_delivered(&app, 1_000, Duration::from_secs(120)).await;

    let counts = keys_by_count(&sink.received());
    assert_eq!(counts.keys().cloned().collect::<HashSet<_>>(), ids, "nothing was lost");
    let repeated: Vec<&String> = counts
        .iter()
        .filter(|(_, times)| **times > 1)
        .map(|(key, _)| key)
        .collect();
    assert!(
        !repeated.is_empty(),
        "the sends held open at the kill must be sent again"
    );
    for key in repeated {
        assert!(!acknowledged.contains(key), "{key} was acknowledged, yet sent again");
    }
}

#[tokio::test]
async fn sms_retry_requeues_a_failed_sms_and_refuses_others() {
    let app = spawn_app().await;
    let ids: Vec<Uuid> = queue_bulk(&app, 2).await.iter().map(|id| id.parse().unwrap()).collect();
    sqlx::query("UPDATE sms_outbox SET status = 'failed', attempts = 8, last_error = 'HTTP 500' WHERE id = $1")
        .bind(ids[0])
        .execute(&app.pool)
        .await
        .unwrap();
    let retry = |id: String| {
        Command::new(binary())
            .args(["sms", "retry", &id])
            .env("DATABASE_URL", database_url(&app.database))
            .output()
            .unwrap()
    };

    let output = retry(ids[0].to_string());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("SMS {} re-queued\n", ids[0])
    );
    let (status, attempts): (String, i32) = sqlx::query_as("SELECT status, attempts FROM sms_outbox WHERE id = $1")
        .bind(ids[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((status.as_str(), attempts), ("queued", 0));

    let output = retry(ids[1].to_string());
    assert!(!output.status.success());
    let expected = format!("SMS {} is queued, not failed: only failed SMS can be re-queued", ids[1]);
    assert!(String::from_utf8_lossy(&output.stderr).contains(&expected));

    let unknown = Uuid::new_v4();
    let output = retry(unknown.to_string());
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("no SMS with id {unknown}")));
}
