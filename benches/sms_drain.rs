//! Drain rates: how fast the delivery worker empties the SMS outbox, with the
//! `capture` transport and with `webhook` to a local sink, and the messaging
//! side's event deliveries (`events`), each beside a baseline measured in the
//! same run on the same machine:
//! - capture: the database alone doing the least per-SMS work possible (one
//!   `UPDATE … SET status = 'delivered'` per SMS, same concurrency);
//! - webhook: the sink alone (plain POSTs, same client settings and concurrency, no database).
//!
//! `cargo bench --bench sms_drain` (BENCH_SMS=N to change the count;
//! IVR_SMS_BATCH, IVR_SMS_CONCURRENCY… tune the worker as in production).
//! Uses DATABASE_URL's server when set, else a durable throwaway cluster.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use clap::Parser;
use futures_util::StreamExt;
use ivr_gateway::configuration::{Cli, Command};
use ivr_gateway::surfaces::instaply_messaging as messaging;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::sync::watch;

mod support;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: i64 = std::env::var("BENCH_SMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let (server, mut cluster) = support::database_server().await?;
    let sink = start_sink()?;
    let webhook_args = [
        "--sms-transport",
        "webhook",
        "--sms-webhook-url",
        &sink,
        "--sms-webhook-secret",
        "bench",
    ];

    println!(
        "SMS drain, {count} SMS per run, {} cores",
        std::thread::available_parallelism()?
    );
    println!(
        "{:<10} {:>12} {:>14} {:>8}   baseline",
        "transport", "worker SMS/s", "baseline SMS/s", "ratio"
    );
    for (name, extra) in [("capture", &[][..]), ("webhook", &webhook_args[..])] {
        let pool = fresh_database(&server).await?;
        let worker_args = worker_args(extra)?;
        queue(&pool, count).await?;
        let worker = worker_args.sms.worker(
            pool.clone(),
            ivr_gateway::surfaces::instaply_ivr::sms::queue::counters(),
        )?;
        let started = Instant::now();
        drain(&worker, &pool, count).await?;
        let worker_rate = count as f64 / started.elapsed().as_secs_f64();

        let concurrency = worker_args.sms.sms_concurrency as usize;
        let (baseline_rate, baseline) = if name == "capture" {
            queue(&pool, count).await?;
            (
                database_baseline(&pool, concurrency).await?,
                "UPDATE per SMS, same concurrency",
            )
        } else {
            (
                sink_baseline(&sink, count, concurrency).await?,
                "plain POSTs to the sink, no database",
            )
        };
        println!(
            "{name:<10} {worker_rate:>12.0} {baseline_rate:>14.0} {:>8.2}   {baseline}",
            worker_rate / baseline_rate
        );
        pool.close().await;
    }
    events(&server, &sink, count).await?;
    if let Some(cluster) = &mut cluster {
        cluster.stop().await;
    }
    Ok(())
}

/// The messaging side's event deliveries (webhook POSTs with extra headers)
/// drained by their worker, beside the sink alone at the same concurrency.
async fn events(server: &PgConnectOptions, sink: &str, count: i64) -> anyhow::Result<()> {
    let pool = fresh_database(server).await?;
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, organization_id, target, event_type, url, headers, payload)
         SELECT gen_random_uuid(), 1, 'webhook', 'messages', $2,
                '[{\"name\":\"Authorization\",\"value\":\"Bearer bench\"}]'::jsonb,
                '{\"eventType\":\"message\",\"timestamp\":1700000000000,\"data\":{\"messageId\":' || g || '}}'
         FROM generate_series(1, $1) g",
    )
    .bind(count)
    .bind(sink)
    .execute(&pool)
    .await?;
    let args = worker_args(&[])?;
    let settings = args.sms.delivery_settings()?;
    let worker = messaging::worker(pool.clone(), &settings, messaging::metrics::counters());
    let started = Instant::now();
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(worker.clone().run(
        &ivr_gateway::platform::notifications::Notifications::start(pool.clone()),
        shutdown,
    ));
    while worker.counters().snapshot().delivered + worker.counters().snapshot().failed < count as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    stop.send(true)?;
    running.await?;
    anyhow::ensure!(worker.counters().snapshot().failed == 0, "deliveries failed");
    let baseline = sink_baseline(sink, count, settings.worker.concurrency).await?;
    println!(
        "{:<10} {rate:>12.0} {baseline:>14.0} {:>8.2}   plain POSTs to the sink, no database (webhook deliveries/s)",
        "events",
        rate / baseline
    );
    pool.close().await;
    Ok(())
}

fn worker_args(extra: &[&str]) -> anyhow::Result<ivr_gateway::configuration::WorkerArgs> {
    let args = ["ivr-gateway", "worker"].into_iter().chain(extra.iter().copied());
    match Cli::try_parse_from(args)?.command {
        Command::Worker(args) => Ok(args),
        _ => unreachable!("parsed the worker subcommand"),
    }
}

async fn fresh_database(server: &PgConnectOptions) -> anyhow::Result<PgPool> {
    let (_, pool) = support::fresh_database(server, 32).await?;
    sqlx::query("INSERT INTO organizations (name) VALUES ('Bench')")
        .execute(&pool)
        .await?;
    sqlx::query("INSERT INTO stores (organization_id, name) SELECT id, 'Bench store' FROM organizations")
        .execute(&pool)
        .await?;
    Ok(pool)
}

async fn queue(pool: &PgPool, count: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO sms_outbox (id, organization_id, store_id, from_number, to_number, body)
         SELECT gen_random_uuid(), s.organization_id, s.id, '+14151234567', '+1415' || lpad(g::text, 7, '0'), 'Welcome ' || g
         FROM stores s, generate_series(1, $1) g",
    )
    .bind(count)
    .execute(pool)
    .await?;
    Ok(())
}

/// Runs the worker as `serve` does until every queued SMS has ended.
async fn drain(
    worker: &ivr_gateway::surfaces::instaply_ivr::sms::Worker,
    pool: &PgPool,
    count: i64,
) -> anyhow::Result<()> {
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(worker.clone().run(
        &ivr_gateway::platform::notifications::Notifications::start(pool.clone()),
        shutdown,
    ));
    let ended = || {
        let counted = worker.counters().snapshot();
        counted.delivered + counted.failed
    };
    while ended() < count as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true)?;
    running.await?;
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM sms_outbox WHERE status = 'queued'")
        .fetch_one(pool)
        .await?;
    anyhow::ensure!(queued == 0, "{queued} SMS still queued");
    let failed = worker.counters().snapshot().failed;
    anyhow::ensure!(failed == 0, "{failed} SMS failed");
    Ok(())
}

/// One autocommit UPDATE per queued SMS from `concurrency` connections.
async fn database_baseline(pool: &PgPool, concurrency: usize) -> anyhow::Result<f64> {
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM sms_outbox WHERE status = 'queued'")
        .fetch_all(pool)
        .await?;
    let started = Instant::now();
    let updates = futures_util::stream::iter(ids.iter().map(|id| {
        sqlx::query("UPDATE sms_outbox SET status = 'delivered', delivered_at = now() WHERE id = $1")
            .bind(id)
            .execute(pool)
    }));
    let results: Vec<_> = updates.buffer_unordered(concurrency).collect().await;
    results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(ids.len() as f64 / started.elapsed().as_secs_f64())
}

async fn sink_baseline(url: &str, count: i64, concurrency: usize) -> anyhow::Result<f64> {
    let client = ivr_gateway::surfaces::instaply_ivr::sms::transport::http_client(Duration::from_secs(10));
    let body =
        r#"{"id":"00000000-0000-0000-0000-000000000000","from":"+14151234567","to":"+14151234560","body":"Welcome"}"#;
    let started = Instant::now();
    let posts = futures_util::stream::iter((0..count).map(|_| client.post(url).body(body).send()));
    let results: Vec<_> = posts.buffer_unordered(concurrency).collect().await;
    for result in results {
        anyhow::ensure!(result?.status().is_success(), "the sink refused a POST");
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

/// A webhook receiver that accepts everything, on its own threads.
fn start_sink() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://127.0.0.1:{}/sms", listener.local_addr()?.port());
    let server = HttpServer::new(|| {
        App::new().default_service(web::to(|_body: web::Bytes| async { HttpResponse::Ok().finish() }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tokio::spawn(server);
    Ok(url)
}
