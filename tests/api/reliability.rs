//! Faults around a commit: an answer is never an error for a write that
//! landed, and a send the transport acknowledged is never made again.
//! Each test reproduces one cause a fault drill found (issue #11).

use std::time::{Duration, Instant};

use ivr_gateway::platform::db;
use ivr_gateway::platform::embedded_postgres::{ClusterOptions, EmbeddedPostgres};
use ivr_gateway::platform::outbox::{AttemptLog, EndedAttempt, Finish, RetryPolicy, WorkerSettings};
use ivr_gateway::surfaces::instaply_ivr::sms::Worker;
use ivr_gateway::surfaces::instaply_ivr::sms::queue::{self, SmsOutbox};
use ivr_gateway::surfaces::instaply_ivr::sms::transport::{self, Transport, WebhookTransport};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::watch;

use ivr_gateway::platform::notifications::Notifications;

use crate::helpers::*;
use crate::sink::{Reply, Sink};

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn a_commit_whose_answer_was_lost_but_that_landed_is_answered_200() {
    let app = spawn_app_with(TestSettings {
        through_proxy: true,
        ..Default::default()
    })
    .await;
    let proxy = app.proxy.as_ref().unwrap();
    proxy.trap_next_commit(CommitTrap::LoseTheAnswer);

    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);

    assert!(proxy.trap_sprung(), "the journal's COMMIT went through the trap");
    assert_eq!(count(&app.pool, "SELECT count(*) FROM calls").await, 1);
    assert_eq!(app.sms_count().await, 1);
    assert_eq!(app.last_call().await.outcome, "dial");
}

#[tokio::test]
async fn a_commit_that_never_reached_the_database_is_written_again_and_answered_200() {
    let app = spawn_app_with(TestSettings {
        through_proxy: true,
        ..Default::default()
    })
    .await;
    let proxy = app.proxy.as_ref().unwrap();
    proxy.trap_next_commit(CommitTrap::DropTheCommit);

    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);

    assert!(proxy.trap_sprung(), "the journal's COMMIT went through the trap");
    // Written once more, so exactly once: one journal row, one SMS.
    assert_eq!(count(&app.pool, "SELECT count(*) FROM calls").await, 1);
    assert_eq!(app.sms_count().await, 1);
    assert!(app.last_call().await.sms_id.is_some());
}

fn webhook_worker(pool: PgPool, sink: &Sink, lease: Duration) -> Worker {
    let client = transport::http_client(Duration::from_secs(2));
    let transport = Transport::Webhook(WebhookTransport::new(client, format!("{}/sms", sink.url), "secret").unwrap());
    let policy = RetryPolicy {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(40),
        max_attempts: 5,
    };
    let settings = WorkerSettings {
        batch_size: 10,
        concurrency: 2,
        lease,
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(1),
    };
    Worker::new(
        pool,
        SmsOutbox,
        transport,
        policy,
        settings,
        ivr_gateway::surfaces::instaply_ivr::sms::queue::counters(),
    )
}

#[tokio::test]
async fn an_acknowledged_send_is_recorded_once_the_database_is_back_and_never_sent_again() {
    let app = spawn_app_with(TestSettings {
        through_proxy: true,
        ..Default::default()
    })
    .await;
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    let id = app.last_call().await.sms_id.unwrap();
    let proxy = app.proxy.as_ref().unwrap();
    // The sink acknowledges each send 300 ms after it arrives; by then the
    // worker's database is gone, for far longer than a few quick retries.
    let sink = Sink::start(|_, _| Reply::Slow(Duration::from_millis(300)));
    let lease = Duration::from_secs(6);
    let worker_pool = db::connect_with(
        app.database.clone().host("127.0.0.1").port(proxy.port),
        4,
        Duration::from_secs(1),
    );
    let worker = webhook_worker(worker_pool, &sink, lease);
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(worker.run(&Notifications::start(app.pool.clone()), shutdown));

    assert!(wait_for(Duration::from_secs(5), || async { !sink.received().is_empty() }).await);
    let claimed = Instant::now();
    proxy.cut().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.acknowledged().len(), 1, "acknowledged while the database was away");
    proxy.restore();

    let recorded = wait_for(Duration::from_secs(3), || async {
        sms(&app.pool, id).await.status == "delivered"
    })
    .await;
    assert!(
        recorded,
        "the acknowledged attempt was recorded once the database was back, within its lease"
    );
    // Past the lease: had the attempt gone unrecorded, it would be sent again by now.
    tokio::time::sleep((lease + Duration::from_secs(1)).saturating_sub(claimed.elapsed())).await;
    assert_eq!(sink.received().len(), 1, "sent once");
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) FROM sms_attempts WHERE outcome = 'delivered'"
        )
        .await,
        1
    );
    stop.send(true).unwrap();
    running.await.unwrap();
}

/// A durable cluster of the test's own, which the test crashes.
async fn crashable_cluster() -> (EmbeddedPostgres, std::path::PathBuf) {
    let data_root = std::env::temp_dir().join(format!("ivr-gateway-crash-{}", uuid::Uuid::new_v4().simple()));
    let cluster = EmbeddedPostgres::start(&ClusterOptions {
        data_root: data_root.clone(),
        durable: true,
    })
    .await
    .unwrap();
    (cluster, data_root)
}

#[tokio::test]
async fn a_claim_survives_a_crash_and_its_lease_is_not_taken_over_before_its_worker_can_record() {
    let (mut cluster, data_root) = crashable_cluster().await;
    let options: sqlx::postgres::PgConnectOptions = cluster.url().parse().unwrap();
    let pool = db::connect_with(options, 4, Duration::from_secs(5));
    db::MIGRATOR.run(&pool).await.unwrap();
    // The WAL writer flushes unflushed commits only every 10 s here, so a
    // claim that did not wait for its own flush is lost in the crash.
    for setting in ["ALTER SYSTEM SET wal_writer_delay = '10s'", "SELECT pg_reload_conf()"] {
        sqlx::raw_sql(setting).execute(&pool).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO sms_outbox (id, organization_id, store_id, from_number, to_number, body)
         VALUES (gen_random_uuid(), 1, 1, '+14151234567', '+14151234560', 'Hi')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let lease = Duration::from_secs(1);
    let claimed = queue::claim(&pool, 10, lease).await.unwrap().remove(0);

    cluster.crash().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.restart().await.unwrap();

    let mut conn = PgConnection::connect(&cluster.url()).await.unwrap();
    let token: Option<uuid::Uuid> = sqlx::query_scalar("SELECT lease_token FROM sms_outbox")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(token, Some(claimed.lease_token), "the claim survived the crash");
    // Its lease ran out during the outage, but another worker may not take
    // it over yet: the worker that holds it may have a send to record.
    assert!(
        queue::claim(&pool, 10, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty(),
        "a lease granted before the restart is honoured after it"
    );
    let delivered = Finish::Delivered {
        provider_message_id: None,
    };
    let log = AttemptLog {
        started_at_unix_ms: 0,
        duration: Duration::ZERO,
        http_status: Some(200),
    };
    let recorded = queue::finish_batch(&mut conn, &[&EndedAttempt::of(&claimed, delivered, log)])
        .await
        .unwrap();
    assert_eq!(
        recorded,
        [true],
        "the worker records its acknowledged send under its own claim"
    );
    let status: String = sqlx::query_scalar("SELECT status FROM sms_outbox")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "delivered");

    conn.close().await.unwrap();
    pool.close().await;
    cluster.stop().await;
    std::fs::remove_dir_all(&data_root).unwrap();
}
