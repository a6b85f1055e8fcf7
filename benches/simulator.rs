//! Simulated calls per second through the hook: a TwiML app answers `Say` +
//! `Gather` whose action is the gateway's own `/v1/ivr`, the persona presses
//! 1, and the hook answers `Dial` (journal row and welcome SMS included).
//! Beside it, the same two requests per call sent plainly (no engine), in
//! the same run. Prints figures, asserts nothing.
//!
//! `cargo bench --bench simulator` (BENCH_CALLS=N, BENCH_CONCURRENCY=N).
//! Uses DATABASE_URL's server when set, else a durable throwaway cluster.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::StreamExt;
use ivr_gateway::control::fixtures::Fixtures;
use ivr_gateway::platform::domain::PhoneValidation;
use ivr_gateway::platform::rate_limit::RateLimit;
use ivr_gateway::startup::{Application, Limits, Settings};
use ivr_gateway::surfaces::instaply_ivr::hook::HookRules;
use ivr_gateway::surfaces::simulator::{self, Call, Ending, Persona};

mod support;

const KEY: &str = "a73d5034210f702515128ac61193cd21";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |name: &str, default: usize| std::env::var(name).ok().and_then(|n| n.parse().ok()).unwrap_or(default);
    let (calls, concurrency) = (env("BENCH_CALLS", 5_000), env("BENCH_CONCURRENCY", 64));
    let (server, mut cluster) = support::database_server().await?;
    let (_, pool) = support::fresh_database(&server, 16).await?;
    let fixtures = Fixtures::from_toml(include_str!("../examples/fixtures.toml"), PhoneValidation::Possible)?;
    ivr_gateway::control::fixtures::storage::apply(&mut *pool.acquire().await?, &fixtures).await?;
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
    let twiml_app = start_twiml_app(&format!("{gateway}/v1/ivr?key={KEY}"))?;

    println!(
        "Simulated calls through the hook, {calls} calls, {concurrency} at once, {} cores",
        std::thread::available_parallelism()?
    );
    let client = simulator::engine::client(Duration::from_secs(10));
    let started = Instant::now();
    let played = futures_util::stream::iter((0..calls).map(|n| {
        let call = Call {
            url: twiml_app.clone(),
            method: simulator::twiml::Method::Post,
            from: caller(n, 1),
            to: "+14151234567".into(),
            persona: Persona {
                presses: vec!["1".into()],
                ..Default::default()
            },
            auth_token: None,
            first_params: Vec::new(),
            first_json: None,
        };
        let client = client.clone();
        async move { simulator::play(&client, &call).await }
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let simulated = calls as f64 / started.elapsed().as_secs_f64();
    let completed = played
        .iter()
        .filter(|t| t.ended == Ending::Completed && t.steps.len() == 6)
        .count();
    anyhow::ensure!(
        completed == calls,
        "{} of {calls} calls did not play Say, Gather, Dial",
        calls - completed
    );

    let started = Instant::now();
    let plain = futures_util::stream::iter((0..calls).map(|n| {
        let (client, twiml_app, hook) = (client.clone(), twiml_app.clone(), format!("{gateway}/v1/ivr?key={KEY}"));
        async move {
            let form = [
                ("From", caller(n, 2)),
                ("To", "+14151234567".into()),
                ("Digits", "1".into()),
            ];
            client.post(&twiml_app).form(&form[..2]).send().await?.text().await?;
            client.post(&hook).form(&form).send().await?.text().await
        }
    }))
    .buffer_unordered(concurrency)
    .collect::<Vec<_>>()
    .await;
    let baseline = calls as f64 / started.elapsed().as_secs_f64();
    anyhow::ensure!(plain.iter().all(Result::is_ok), "a plain request failed");
    println!("{:<12} {:>10} {:>12} {:>7}", "", "calls/s", "baseline/s", "ratio");
    println!(
        "{:<12} {simulated:>10.0} {baseline:>12.0} {:>7.2}   baseline: the same 2 requests per call, sent plainly",
        "simulator",
        simulated / baseline
    );
    if let Some(cluster) = &mut cluster {
        cluster.stop().await;
    }
    Ok(())
}

/// A distinct caller per call and per pass, so neither pass meets the other's cool-down.
fn caller(n: usize, pass: usize) -> String {
    format!("+1415{pass}{n:06}")
}

/// The app: `Say` + `Gather` whose action is the hook.
fn start_twiml_app(hook: &str) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://127.0.0.1:{}/voice", listener.local_addr()?.port());
    let document = format!(
        r#"<Response><Say>Welcome to Acme</Say><Gather numDigits="1" action="{}"><Say>Press 1 to reach the store</Say></Gather></Response>"#,
        hook.replace('&', "&amp;")
    );
    let server = HttpServer::new(move || {
        let document = document.clone();
        App::new().default_service(web::to(move || {
            let document = document.clone();
            async move { HttpResponse::Ok().content_type("text/xml").body(document) }
        }))
    })
    .workers(1)
    .listen(listener)?
    .disable_signals()
    .run();
    tokio::spawn(server);
    Ok(url)
}
