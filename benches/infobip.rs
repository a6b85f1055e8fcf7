//! Infobip launches: the time to accept a 20,000-destination launch (every
//! call stored before the answer), the calls placed per second by the
//! dialer (scenario played by the simulator, report queued), and the
//! reports drained per second to a local sink by their outbox worker. Each
//! beside a baseline measured in the same run: the same launch body POSTed
//! to a server that only reads it; the same report bodies POSTed plainly to
//! the sink at the worker's concurrency. Prints figures, asserts nothing.
//!
//! `cargo bench --bench infobip` (BENCH_DESTINATIONS=N, at most 20,000).
//! Uses DATABASE_URL's server when set, else a durable throwaway cluster.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use clap::Parser;
use futures_util::StreamExt;
use ivr_gateway::configuration::{Cli, Command};
use ivr_gateway::control::fixtures::Fixtures;
use ivr_gateway::platform::domain::PhoneValidation;
use ivr_gateway::platform::notifications::Notifications;
use ivr_gateway::platform::rate_limit::RateLimit;
use ivr_gateway::startup::{Application, Limits, Settings};
use ivr_gateway::surfaces::infobip;
use ivr_gateway::surfaces::instaply_ivr::hook::HookRules;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::sync::watch;

mod support;

const APP_KEY: &str = "App infobip-api-key-0001";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let destinations: usize = std::env::var("BENCH_DESTINATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
        .min(20_000);
    let (server, mut cluster) = support::database_server().await?;
    let (_, pool) = support::fresh_database(&server, 32).await?;
    let fixtures = Fixtures::from_toml(include_str!("../examples/fixtures.toml"), PhoneValidation::Possible)?;
    ivr_gateway::control::fixtures::storage::apply(&mut *pool.acquire().await?, &fixtures).await?;
    let gateway = start_gateway(&pool)?;
    let sink = start_sink()?;
    let client = reqwest::Client::new();
    println!(
        "Infobip launch of {destinations} destinations, {} cores",
        std::thread::available_parallelism()?
    );

    let created = client
        .post(format!("{gateway}/infobip/voice/ivr/1/scenarios"))
        .header("authorization", APP_KEY)
        .header("content-type", "application/json")
        .body(
            json!({"name": "Bench", "script": [
                {"say": "Hello ${name}, press 1 or 2"}, {"collectInto": "choice", "options": {"maxInputLength": 1}},
                {"switch": "${choice}", "case": {"1": [{"say": "One"}]}}, {"hangup": "done"}]})
            .to_string(),
        )
        .send()
        .await?
        .text()
        .await?;
    let scenario: Value = serde_json::from_str(&created)?;
    let numbers: Vec<Value> = (0..destinations)
        .map(|i| json!({"to": format!("4179{i:07}")}))
        .collect();
    let body = json!({"bulkId": "bench", "messages": [{"scenarioId": scenario["id"], "from": "14151234567",
        "destinations": numbers, "parameters": {"name": "Ana"}, "callbackData": "bench", "notifyUrl": sink}]})
    .to_string();

    let started = Instant::now();
    let answer = client
        .post(format!("{gateway}/infobip/voice/ivr/1/messages"))
        .header("authorization", APP_KEY)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await?;
    let accept = started.elapsed();
    anyhow::ensure!(
        answer.status().is_success(),
        "the launch was refused: {}",
        answer.text().await?
    );
    let started = Instant::now();
    let echoed = client.post(&sink).body(body).send().await?;
    let accept_baseline = started.elapsed();
    anyhow::ensure!(echoed.status().is_success(), "the sink refused the body");

    // Calls: the dialer alone, until every destination has ended.
    let notifications = Notifications::start(pool.clone());
    let dialer = infobip::Dialer::new(pool.clone(), ivr_gateway::startup::simulated_calls(&pool));
    let (stop, shutdown) = watch::channel(false);
    let started = Instant::now();
    let running = tokio::spawn(dialer.run(&notifications, shutdown));
    while count(&pool, "SELECT count(*) FROM infobip_calls WHERE status <> 'pending'").await? < destinations as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let calls_rate = destinations as f64 / started.elapsed().as_secs_f64();
    stop.send(true)?;
    running.await?;

    // Reports: their worker alone, until every report is acknowledged.
    let settings = match Cli::try_parse_from(["ivr-gateway", "worker"])?.command {
        Command::Worker(args) => args.sms.delivery_settings()?,
        _ => unreachable!("parsed the worker subcommand"),
    };
    let worker = infobip::report_worker(
        pool.clone(),
        settings.http_timeout,
        settings.retry,
        settings.worker,
        infobip::metrics::counters(),
    );
    let (stop, shutdown) = watch::channel(false);
    let started = Instant::now();
    let running = tokio::spawn(worker.clone().run(&notifications, shutdown));
    while worker.counters().snapshot().delivered + worker.counters().snapshot().failed < destinations as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reports_rate = destinations as f64 / started.elapsed().as_secs_f64();
    stop.send(true)?;
    running.await?;
    anyhow::ensure!(worker.counters().snapshot().failed == 0, "reports failed");
    let payloads: Vec<String> = sqlx::query_scalar("SELECT payload FROM infobip_reports")
        .fetch_all(&pool)
        .await?;
    let started = Instant::now();
    let posts = futures_util::stream::iter(payloads.into_iter().map(|payload| {
        client
            .post(&sink)
            .header("content-type", "application/json")
            .body(payload)
            .send()
    }));
    let results: Vec<_> = posts.buffer_unordered(settings.worker.concurrency).collect().await;
    for result in results {
        anyhow::ensure!(result?.status().is_success(), "the sink refused a POST");
    }
    let reports_baseline = destinations as f64 / started.elapsed().as_secs_f64();

    println!("{:<8} {:>12} {:>12} {:>7}", "", "measured", "baseline", "ratio");
    println!(
        "{:<8} {:>10.0}ms {:>10.0}ms {:>7.2}   answer time; baseline: the same body POSTed to a sink that only reads it (target < 1 s)",
        "accept",
        accept.as_secs_f64() * 1000.0,
        accept_baseline.as_secs_f64() * 1000.0,
        accept.as_secs_f64() / accept_baseline.as_secs_f64()
    );
    println!(
        "{:<8} {calls_rate:>10.0}/s {:>12} {:>7}   calls placed, scenario played, report queued",
        "calls", "", ""
    );
    println!(
        "{:<8} {reports_rate:>10.0}/s {reports_baseline:>10.0}/s {:>7.2}   reports pushed; baseline: plain POSTs of the same bodies (target ≥ 5,000/s)",
        "reports",
        reports_rate / reports_baseline
    );
    if let Some(cluster) = &mut cluster {
        cluster.stop().await;
    }
    Ok(())
}

async fn count(pool: &PgPool, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

/// The gateway serving, without background work (the bench runs it by hand).
fn start_gateway(pool: &PgPool) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let settings = Settings {
        rules: HookRules {
            phone_validation: PhoneValidation::Possible,
            welcome_cooldown: Duration::from_secs(86_400),
        },
        rate_limit: RateLimit {
            per_second: 0.0,
            burst: 0,
        },
        limits: Limits::default(),
        db_timeout: Duration::from_secs(5),
        admin_token: None,
        retention: Duration::ZERO,
        sms_worker: None,
    };
    let app = Application::build(settings, pool.clone(), listener)?;
    let gateway = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    Ok(gateway)
}

/// A report receiver that reads each body and accepts it, on its own thread.
fn start_sink() -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://127.0.0.1:{}/reports", listener.local_addr()?.port());
    let server = HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .default_service(web::to(|_body: web::Bytes| async { HttpResponse::Ok().finish() }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tokio::spawn(server);
    Ok(url)
}
