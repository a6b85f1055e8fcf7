//! docs/ivr-hook.md §4 and issue #3: the worker delivers queued SMS through
//! each transport, retries what may succeed, fails what cannot, and never lets
//! a stale worker overwrite a newer attempt.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use ivr_gateway::platform::outbox::{AttemptLog, EndedAttempt, Finish, RetryPolicy, WorkerSettings};
use ivr_gateway::surfaces::instaply_ivr::sms::Worker;
use ivr_gateway::surfaces::instaply_ivr::sms::queue::{self, SmsOutbox};
use ivr_gateway::surfaces::instaply_ivr::sms::transport::{self, Transport, TwilioTransport, WebhookTransport};
use tokio::sync::watch;
use uuid::Uuid;

use ivr_gateway::platform::notifications::Notifications;

use crate::helpers::*;
use crate::sink::{Reply, Sink};

const SECRET: &str = "test-webhook-secret";
const FAST_RETRIES: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(10),
    cap: Duration::from_millis(40),
    max_attempts: 5,
};
const SETTINGS: WorkerSettings = WorkerSettings {
    batch_size: 64,
    concurrency: 8,
    lease: Duration::from_secs(30),
    poll_interval: Duration::from_millis(50),
    shutdown_grace: Duration::from_secs(5),
};

fn worker(app: &TestApp, transport: Transport) -> Worker {
    Worker::new(
        app.pool.clone(),
        SmsOutbox,
        transport,
        FAST_RETRIES,
        SETTINGS,
        ivr_gateway::surfaces::instaply_ivr::sms::queue::counters(),
    )
}

fn webhook(sink: &Sink) -> Transport {
    let client = transport::http_client(Duration::from_secs(5));
    Transport::Webhook(WebhookTransport::new(client, format!("{}/sms", sink.url), SECRET).unwrap())
}

/// Runs batches until nothing is queued any more (retries included).
async fn drain(app: &TestApp, worker: &Worker) {
    let (_keep, mut shutdown) = watch::channel(false);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let outcome = worker.run_batch(&mut shutdown).await.unwrap();
        if outcome.claimed == 0 {
            let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM sms_outbox WHERE status = 'queued'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            if queued == 0 {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "the queue did not drain");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Calls the hook so that one welcome SMS is queued to `caller`; returns its id.
async fn queue_welcome(app: &TestApp, caller: &str) -> Uuid {
    app.call(ACME_KEY, caller, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    app.last_call().await.sms_id.expect("a welcome SMS was queued")
}

#[derive(Debug, PartialEq, Eq, sqlx::FromRow)]
struct Outcome {
    status: String,
    attempts: i32,
    last_error: Option<String>,
    delivered: bool,
    provider_message_id: Option<String>,
}

async fn outcome(app: &TestApp, id: Uuid) -> Outcome {
    sqlx::query_as(
        "SELECT status, attempts, last_error, delivered_at IS NOT NULL AS delivered, provider_message_id FROM sms_outbox WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

/// `(attempt, outcome, http_status)` of every recorded attempt, in order.
async fn attempts(app: &TestApp, id: Uuid) -> Vec<(i32, String, Option<i16>)> {
    sqlx::query_as("SELECT attempt, outcome, http_status FROM sms_attempts WHERE sms_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn delivered() -> Outcome {
    Outcome {
        status: "delivered".into(),
        attempts: 1,
        last_error: None,
        delivered: true,
        provider_message_id: None,
    }
}

#[tokio::test]
async fn capture_marks_a_queued_welcome_sms_delivered_and_logs_the_attempt() {
    let app = spawn_app().await;
    let id = queue_welcome(&app, CALLER).await;
    let worker = worker(&app, Transport::Capture);
    drain(&app, &worker).await;
    assert_eq!(outcome(&app, id).await, delivered());
    assert_eq!(attempts(&app, id).await, [(1, "delivered".to_owned(), None)]);
    assert_eq!(worker.counters().snapshot().delivered, 1);
}

#[tokio::test]
async fn capture_magic_numbers_fail_or_recover_as_documented() {
    let app = spawn_app().await;
    let invalid = queue_welcome(&app, transport::MAGIC_INVALID_NUMBER).await;
    let incapable = queue_welcome(&app, transport::MAGIC_NOT_SMS_CAPABLE).await;
    let flaky = queue_welcome(&app, transport::MAGIC_TRANSIENT_TWICE).await;
    let worker = worker(&app, Transport::Capture);
    drain(&app, &worker).await;

    let failed = |error: &str| Outcome {
        status: "failed".into(),
        attempts: 1,
        last_error: Some(error.into()),
        delivered: false,
        provider_message_id: None,
    };
    assert_eq!(
        outcome(&app, invalid).await,
        failed("invalid number: +15005550001 is not a valid phone number")
    );
    assert_eq!(
        outcome(&app, incapable).await,
        failed("not SMS-capable: +15005550009 cannot receive SMS")
    );
    assert_eq!(
        outcome(&app, flaky).await,
        Outcome {
            attempts: 3,
            ..delivered()
        }
    );
    let outcomes: Vec<String> = attempts(&app, flaky)
        .await
        .into_iter()
        .map(|(_, outcome, _)| outcome)
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "delivered"]);
    let counters = worker.counters().snapshot();
    assert_eq!((counters.delivered, counters.failed, counters.retried), (1, 2, 2));
}

#[tokio::test]
async fn the_webhook_gets_signed_json_with_the_sms_id_as_idempotency_key() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    let query = format!("key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567&context=OPT_IN");
    app.get(&query).await.assert_twiml(DIAL_ACME_SF);
    let id = app.last_call().await.sms_id.unwrap();
    drain(&app, &worker(&app, webhook(&sink))).await;

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.path, "/sms");
    assert_eq!(request.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(request.header("idempotency-key"), Some(id.to_string()));
    assert_eq!(request.header("webhook-id"), Some(id.to_string()));

    let payload = request.json();
    let created_at: String = sqlx::query_scalar(
        r#"SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') FROM sms_outbox WHERE id = $1"#,
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        payload,
        serde_json::json!({
            "id": id.to_string(),
            "from": ACME_SF,
            "to": CALLER,
            "body": "Hi from Acme SF! Reply here to chat.",
            "context": "OPT_IN",
            "store": "Acme San Francisco",
            "created_at": created_at,
        })
    );

    // Verified here from the Standard Webhooks definition, not with our signer.
    let timestamp: u64 = request.header("webhook-timestamp").unwrap().parse().unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(now.abs_diff(timestamp) < 30, "timestamp {timestamp} is not now ({now})");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&request.body);
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    assert_eq!(request.header("webhook-signature"), Some(expected));
    assert_eq!(attempts(&app, id).await, [(1, "delivered".to_owned(), Some(200))]);
}

#[tokio::test]
async fn transient_webhook_failures_are_retried_and_delivered() {
    let app = spawn_app().await;
    let sink = Sink::start(|_, index| match index {
        0 => Reply::Status(503),
        1 => Reply::Status(408),
        2 => Reply::Status(429),
        _ => Reply::Status(204),
    });
    let id = queue_welcome(&app, CALLER).await;
    drain(&app, &worker(&app, webhook(&sink))).await;
    assert_eq!(
        outcome(&app, id).await,
        Outcome {
            attempts: 4,
            ..delivered()
        }
    );
    let expected = [
        (1, "retry", 503),
        (2, "retry", 408),
        (3, "retry", 429),
        (4, "delivered", 204),
    ]
    .map(|(n, outcome, status)| (n, outcome.to_owned(), Some(status)));
    assert_eq!(attempts(&app, id).await, expected);
    let keys: Vec<_> = sink
        .received()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(
        keys,
        vec![id.to_string(); 4],
        "every attempt carries the same idempotency key"
    );
}

#[tokio::test]
async fn other_4xx_answers_fail_at_once_with_the_reason() {
    let app = spawn_app().await;
    let sink = Sink::start(|_, _| Reply::Full(422, vec![], "unknown recipient".into()));
    let id = queue_welcome(&app, CALLER).await;
    drain(&app, &worker(&app, webhook(&sink))).await;
    let outcome = outcome(&app, id).await;
    assert_eq!((outcome.status.as_str(), outcome.attempts), ("failed", 1));
    assert_eq!(
        outcome.last_error.as_deref(),
        Some("HTTP 422 Unprocessable Entity: unknown recipient")
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let app = spawn_app().await;
    let sink = Sink::start(|_, _| Reply::Full(429, vec![("retry-after", "120".into())], String::new()));
    let id = queue_welcome(&app, CALLER).await;
    let (_keep, mut shutdown) = watch::channel(false);
    worker(&app, webhook(&sink)).run_batch(&mut shutdown).await.unwrap();
    let wait: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM sms_outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        (115.0..=120.0).contains(&wait),
        "next attempt in {wait} s, not after the 120 s asked"
    );
    assert_eq!(outcome(&app, id).await.status, "queued");
}

#[tokio::test]
async fn attempts_stop_at_the_maximum_with_the_last_error() {
    let app = spawn_app().await;
    let unreachable = format!("http://127.0.0.1:{}", {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    });
    let client = transport::http_client(Duration::from_secs(2));
    let transport = Transport::Webhook(WebhookTransport::new(client, unreachable, SECRET).unwrap());
    let id = queue_welcome(&app, CALLER).await;
    drain(&app, &worker(&app, transport)).await;
    let outcome = outcome(&app, id).await;
    assert_eq!((outcome.status.as_str(), outcome.attempts), ("failed", 5));
    let error = outcome.last_error.unwrap();
    assert!(
        error.starts_with("connection failed: ") && error.ends_with("(gave up after 5 attempts)"),
        "{error}"
    );
    assert_eq!(attempts(&app, id).await.len(), 5);
}

#[tokio::test]
async fn twilio_gets_the_messages_api_form_with_basic_auth_and_its_sid_is_kept() {
    let app = spawn_app().await;
    let sink = Sink::start(|request, _| {
        if request.header("authorization").as_deref() != Some("Basic QUMxMjM6dG9rZW4tNDU2") {
            return Reply::Status(401);
        }
        let form: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
        if form
            .iter()
            .any(|(name, value)| name == "To" && value == transport::MAGIC_INVALID_NUMBER)
        {
            let error = r#"{"code":21211,"message":"Invalid 'To' Phone Number","status":400}"#;
            return Reply::Full(400, vec![], error.into());
        }
        Reply::Full(
            201,
            vec![],
            r#"{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}"#.into(),
        )
    });
    let client = transport::http_client(Duration::from_secs(5));
    let twilio = Transport::Twilio(TwilioTransport::new(
        client,
        &format!("{}/", sink.url),
        "AC123".into(),
        "token-456".into(),
    ));
    let sent = queue_welcome(&app, CALLER).await;
    let refused = queue_welcome(&app, transport::MAGIC_INVALID_NUMBER).await;
    drain(&app, &worker(&app, twilio)).await;

    let request = sink
        .received()
        .into_iter()
        .find(|r| !r.body.windows(5).any(|w| w == b"15005"))
        .unwrap();
    assert_eq!(request.path, "/2010-04-01/Accounts/AC123/Messages.json");
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!((field("To"), field("From")), (Some(CALLER), Some(ACME_SF)));
    assert_eq!(field("Body"), Some("Hi from Acme SF! Reply here to chat."));
    assert_eq!(
        outcome(&app, sent).await,
        Outcome {
            provider_message_id: Some("SM0123456789abcdef0123456789abcdef".into()),
            ..delivered()
        }
    );
    let refused = outcome(&app, refused).await;
    assert_eq!(
        refused.last_error.as_deref(),
        Some("HTTP 400 Bad Request: Twilio error 21211: Invalid 'To' Phone Number")
    );
}

#[tokio::test]
async fn a_worker_whose_lease_expired_cannot_overwrite_a_newer_attempt() {
    let app = spawn_app().await;
    let id = queue_welcome(&app, CALLER).await;
    let stale = queue::claim(&app.pool, 10, Duration::from_millis(100))
        .await
        .unwrap()
        .remove(0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = queue::claim(&app.pool, 10, Duration::from_secs(30))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((stale.id, fresh.id, fresh.attempt), (id, id, 2));
    assert_ne!(stale.lease_token, fresh.lease_token);

    let log = AttemptLog {
        started_at_unix_ms: 0,
        duration: Duration::ZERO,
        http_status: None,
    };
    let mut conn = app.pool.acquire().await.unwrap();
    let failed = Finish::Failed {
        error: "stale worker's view".into(),
    };
    assert_eq!(
        queue::finish_batch(&mut conn, &[&EndedAttempt::of(&stale, failed, log.clone())])
            .await
            .unwrap(),
        [false],
        "the stale finish must be refused"
    );
    assert_eq!(
        outcome(&app, id).await.status,
        "queued",
        "the newer claim still owns the row"
    );
    let done = Finish::Delivered {
        provider_message_id: None,
    };
    assert_eq!(
        queue::finish_batch(&mut conn, &[&EndedAttempt::of(&fresh, done, log)])
            .await
            .unwrap(),
        [true]
    );
    assert_eq!(
        outcome(&app, id).await,
        Outcome {
            attempts: 2,
            ..delivered()
        }
    );
    assert_eq!(attempts(&app, id).await.len(), 2, "both attempts are on record");
}

#[tokio::test]
async fn one_statement_records_a_batch_of_attempts_and_refuses_only_the_stale_ones() {
    let app = spawn_app().await;
    let stale_id = queue_welcome(&app, "+14155550101").await;
    let stale = queue::claim(&app.pool, 10, Duration::from_millis(100))
        .await
        .unwrap()
        .remove(0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let delivered_id = queue_welcome(&app, "+14155550102").await;
    let retried_id = queue_welcome(&app, "+14155550103").await;
    let failed_id = queue_welcome(&app, "+14155550104").await;
    let claimed = queue::claim(&app.pool, 10, Duration::from_secs(30)).await.unwrap();
    let claim_of = |id| claimed.iter().find(|sms| sms.id == id).unwrap();
    assert_eq!(claimed.len(), 4, "the stale claim's row is due again");

    let log = |status| AttemptLog {
        started_at_unix_ms: 1_700_000_000_000,
        duration: Duration::from_millis(7),
        http_status: Some(status),
    };
    let batch = [
        EndedAttempt::of(
            claim_of(delivered_id),
            Finish::Delivered {
                provider_message_id: Some("SM-1".into()),
            },
            log(200),
        ),
        EndedAttempt::of(&stale, Finish::Failed { error: "stale".into() }, log(500)),
        EndedAttempt::of(
            claim_of(retried_id),
            Finish::Retry {
                after: Duration::from_secs(3600),
                error: "HTTP 503 ' OR 1=1 --".into(),
            },
            log(503),
        ),
        EndedAttempt::of(
            claim_of(failed_id),
            Finish::Failed {
                error: "invalid number ✗".into(),
            },
            log(400),
        ),
    ];
    let mut conn = app.pool.acquire().await.unwrap();
    let held = queue::finish_batch(&mut conn, &batch.iter().collect::<Vec<_>>())
        .await
        .unwrap();
    assert_eq!(held, [true, false, true, true]);

    assert_eq!(
        outcome(&app, delivered_id).await,
        Outcome {
            provider_message_id: Some("SM-1".into()),
            ..delivered()
        }
    );
    assert_eq!(
        outcome(&app, retried_id).await,
        Outcome {
            status: "queued".into(),
            attempts: 1,
            last_error: Some("HTTP 503 ' OR 1=1 --".into()),
            delivered: false,
            provider_message_id: None,
        }
    );
    assert_eq!(
        outcome(&app, failed_id).await.last_error.as_deref(),
        Some("invalid number ✗")
    );
    assert_eq!(
        outcome(&app, stale_id).await.status,
        "queued",
        "the newer claim still owns the stale row"
    );
    assert_eq!(attempts(&app, retried_id).await, [(1, "retry".into(), Some(503))]);
    assert_eq!(
        attempts(&app, stale_id).await,
        [(1, "failed".into(), Some(500))],
        "a refused attempt is still on record"
    );
    let (started, duration_ms): (f64, i32) = sqlx::query_as(
        "SELECT extract(epoch FROM started_at)::float8, duration_ms FROM sms_attempts WHERE sms_id = $1",
    )
    .bind(failed_id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((started, duration_ms), (1_700_000_000.0, 7));
}

#[tokio::test]
async fn shutdown_finishes_deliveries_in_flight_and_releases_the_rest() {
    let app = spawn_app().await;
    let sink = Sink::start(|_, _| Reply::Slow(Duration::from_millis(500)));
    for n in 0..10 {
        queue_welcome(&app, &format!("+1415555{n:04}")).await;
    }
    let settings = WorkerSettings {
        concurrency: 2,
        ..SETTINGS
    };
    let counters = ivr_gateway::surfaces::instaply_ivr::sms::queue::counters();
    let worker = Worker::new(
        app.pool.clone(),
        SmsOutbox,
        webhook(&sink),
        FAST_RETRIES,
        settings,
        counters.clone(),
    );
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(worker.run(&Notifications::start(app.pool.clone()), shutdown));
    while sink.received().len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();

    let (delivered, queued_fresh): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'delivered'),
                count(*) FILTER (WHERE status = 'queued' AND attempts = 0 AND lease_token IS NULL AND next_attempt_at <= now())
         FROM sms_outbox",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (delivered, queued_fresh),
        (2, 8),
        "in flight finished; unstarted handed back untouched"
    );
    assert_eq!(sink.received().len(), 2);
    let counters = counters.snapshot();
    assert_eq!((counters.delivered, counters.released), (2, 8));
}

#[tokio::test]
async fn the_worker_wakes_on_notify_without_waiting_for_its_poll() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    let settings = WorkerSettings {
        poll_interval: Duration::from_secs(3600),
        ..SETTINGS
    };
    let worker = Worker::new(
        app.pool.clone(),
        SmsOutbox,
        webhook(&sink),
        FAST_RETRIES,
        settings,
        ivr_gateway::surfaces::instaply_ivr::sms::queue::counters(),
    );
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(worker.run(&Notifications::start(app.pool.clone()), shutdown));
    tokio::time::sleep(Duration::from_millis(300)).await; // let it go idle, listening
    let id = queue_welcome(&app, CALLER).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while outcome(&app, id).await.status != "delivered" {
        assert!(
            std::time::Instant::now() < deadline,
            "a NOTIFY must wake the idle worker"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();
}

#[tokio::test]
async fn the_application_built_as_serve_builds_it_delivers_with_its_own_worker() {
    let app = spawn_app_with(TestSettings {
        sms_worker: true,
        ..Default::default()
    })
    .await;
    let id = queue_welcome(&app, CALLER).await;
    let delivered = wait_for(Duration::from_secs(10), || async {
        sms(&app.pool, id).await.status == "delivered"
    })
    .await;
    assert!(delivered, "the in-process worker (capture) delivered the welcome SMS");
    assert_eq!(sms(&app.pool, id).await.attempts, 1);
}
