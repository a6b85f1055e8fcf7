//! The subcommands: `serve`, `migrate`, `seed`, `worker`, `sms`.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::migrate::MigrateError;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::watch;

use crate::banner;
use crate::call::{self as client, CallRequest};
use crate::configuration::{
    AdminApiArgs, CallArgs, ClockCommand, CustomerCommand, DatabaseArgs, KeysCommand, ReadyArgs, SeedArgs, ServeArgs,
    SimulateArgs, SmsCommand, WorkerArgs,
};
use crate::control::fixtures::Fixtures;
use crate::platform::db;
use crate::platform::domain::ApiKey;
use crate::platform::domain::PhoneValidation;
use crate::platform::embedded_postgres::{ClusterOptions, EmbeddedPostgres};
use crate::platform::notifications::Notifications;
use crate::startup::{self, Application};
use crate::surfaces::instaply_ivr::sms::queue;

/// How long start-up waits for a database that is not reachable yet (a
/// container still booting) before giving up.
const DATABASE_WAIT: Duration = Duration::from_secs(30);

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    args.validate()?;
    // Read and checked before the database starts: a bad file costs nothing.
    let fixtures = args
        .fixtures
        .as_deref()
        .map(|path| read_fixtures(path, args.rules.phone_validation))
        .transpose()?;
    let settings = args.settings();
    let database = Database::open(&args.database, settings.dedicated_connections()).await?;
    let outcome = async {
        database.migrate().await?;
        if let (Some(path), Some(fixtures)) = (&args.fixtures, &fixtures) {
            apply_fixtures(&database.pool, path, fixtures).await?;
        }
        if let Some(speed) = args.clock_speed {
            crate::platform::clock::set_speed(&database.pool, speed).await?;
        }
        let listener = TcpListener::bind(args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
        let app = Application::build(settings, database.pool.clone(), listener)?;
        // For the person who started it, on stdout: the log (stderr) never
        // holds a key, and this may show the public example one.
        println!("{}", banner::ready(args.bind, &database.location, fixtures.as_ref()));
        tracing::info!(bind = %args.bind, "ready");
        tokio::spawn(stop_on_signal(app.handle()));
        app.run_until_stopped().await.context("server failed")
    }
    .await;
    // The database goes last, once requests have drained.
    database.close().await;
    outcome
}

pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    args.validate()?;
    let database = Database::open(&args, 0).await?;
    let outcome = database.migrate().await;
    if outcome.is_ok() {
        let latest = db::MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
        println!(
            "database migrated: schema version {latest} ({} migrations)",
            db::MIGRATOR.iter().count()
        );
    }
    database.close().await;
    outcome
}

pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    args.database.validate()?;
    let fixtures = read_fixtures(&args.file, args.rules.phone_validation)?;
    let database = Database::open(&args.database, 0).await?;
    let outcome = async {
        database.migrate().await?;
        apply_fixtures(&database.pool, &args.file, &fixtures).await
    }
    .await;
    database.close().await;
    outcome
}

/// `ivr-gateway worker`: delivery alone (welcome SMS, the messaging side's
/// events, Infobip's calls and reports), until SIGTERM or SIGINT.
pub async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    args.database.validate()?;
    args.sms.validate()?;
    let dedicated = startup::dedicated_connections(false, true);
    args.database.leaves_room_for(dedicated)?;
    let database = Database::open(&args.database, dedicated).await?;
    let outcome = async {
        database.migrate().await?;
        let worker = args.sms.worker(
            database.pool.clone(),
            crate::surfaces::instaply_ivr::sms::queue::counters(),
        )?;
        let deliveries = crate::surfaces::instaply_messaging::worker(
            database.pool.clone(),
            &args.sms.delivery_settings()?,
            crate::surfaces::instaply_messaging::metrics::counters(),
        );
        let notifications = Notifications::start(database.pool.clone());
        let (stop, shutdown) = watch::channel(false);
        let sms = tokio::spawn(worker.run(&notifications, shutdown.clone()));
        let events = tokio::spawn(deliveries.run(&notifications, shutdown.clone()));
        let infobip =
            startup::infobip_background(&database.pool, &args.sms.delivery_settings()?, &notifications, shutdown);
        shutdown_signal().await;
        let _ = stop.send(true);
        sms.await.context("the SMS worker panicked")?;
        for task in infobip {
            task.await.context("an Infobip worker panicked")?;
        }
        events.await.context("the event delivery worker panicked")
    }
    .await;
    database.close().await;
    outcome
}

/// `ivr-gateway sms …`: operator commands on the outbox.
pub async fn sms(command: SmsCommand) -> anyhow::Result<()> {
    match command {
        SmsCommand::Retry { id, database } => {
            let database = Database::open(&database, 0).await?;
            let outcome = async {
                database.migrate().await?;
                queue::requeue_failed(&database.pool, id)
                    .await?
                    .map_err(anyhow::Error::from)?;
                println!("SMS {id} re-queued");
                Ok(())
            }
            .await;
            database.close().await;
            outcome
        }
    }
}

/// `ivr-gateway call`: prints the status and transcript; 4xx/5xx fail.
pub async fn call(args: CallArgs) -> anyhow::Result<bool> {
    let request = CallRequest {
        url: args.url,
        method: args.method,
        key: args.key,
        from: args.from,
        to: args.to,
        context: args.context,
    };
    let answer = client::call(&request).await?;
    print!("{}", answer.render());
    Ok(!answer.is_error())
}

/// `ivr-gateway simulate`: plays the call and prints its transcript; a call
/// that ended in an error fails.
pub async fn simulate(args: SimulateArgs) -> anyhow::Result<bool> {
    use crate::surfaces::simulator::{self, Call, Ending, Persona};
    let url = match (&args.url, &args.smartflo_number) {
        (Some(url), _) => url.clone(),
        (None, Some(number)) => format!(
            "{}/smartflo/numbers/{}/voice",
            args.gateway.trim_end_matches('/'),
            form_urlencoded::byte_serialize(number.as_bytes()).collect::<String>()
        ),
        (None, None) => unreachable!("clap requires one of them"),
    };
    let call = Call {
        url,
        method: if args.method == "get" {
            simulator::twiml::Method::Get
        } else {
            simulator::twiml::Method::Post
        },
        from: args.from,
        to: args.to,
        persona: Persona {
            presses: args.press,
            hang_up_at: args.hang_up_at,
            dial: args.dial.into_iter().collect(),
            ..Persona::default()
        },
        auth_token: args.auth_token.as_ref().map(|token| token.expose().to_owned()),
        first_params: Vec::new(),
        first_json: None,
    };
    let transcript = simulator::play(&simulator::engine::client(std::time::Duration::from_secs(10)), &call).await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&transcript)?);
    } else {
        print!("{}", transcript.render());
    }
    Ok(transcript.ended != Ending::Error)
}

/// `ivr-gateway customer …`: one admin request; prints the JSON answer.
/// `ivr-gateway clock …`: the emulator's clock, through the admin API.
pub async fn clock(command: ClockCommand) -> anyhow::Result<()> {
    let (api, method, path, body) = match command {
        ClockCommand::Show { api } => (api, reqwest::Method::GET, "/admin/clock", None),
        ClockCommand::Advance { by, api } => (
            api,
            reqwest::Method::POST,
            "/admin/clock/advance",
            Some(serde_json::json!({ "by": by })),
        ),
        ClockCommand::Speed { speed, api } => (
            api,
            reqwest::Method::PUT,
            "/admin/clock",
            Some(serde_json::json!({ "speed": speed })),
        ),
    };
    admin_request(&api, method, path, body).await
}

pub async fn customer(command: CustomerCommand) -> anyhow::Result<()> {
    let (api, path, body) = match command {
        CustomerCommand::Send {
            from,
            to,
            text,
            channel,
            api,
        } => (
            api,
            "/admin/customer-messages".to_owned(),
            serde_json::json!({"from": from, "to": to, "text": text, "channel": channel}),
        ),
        CustomerCommand::Transfer { thread, to, api } => (
            api,
            format!("/admin/threads/{thread}/transfer"),
            serde_json::json!({ "to": to }),
        ),
    };
    admin_request(&api, reqwest::Method::POST, &path, Some(body)).await
}

/// One admin API request; its answer printed, or an error that says why.
async fn admin_request(
    api: &AdminApiArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<()> {
    let url = format!("{}{path}", api.url.trim_end_matches('/'));
    let mut request = reqwest::Client::new().request(method, &url);
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    if let Some(token) = &api.admin_token {
        request = request.bearer_auth(token.expose());
    }
    let response = request.send().await.map_err(|error| {
        let hint = if error.is_connect() {
            format!("nothing answers at {}: is `ivr-gateway serve` running?", api.url)
        } else if error.is_builder() {
            format!("'{}' is not an http:// URL", api.url)
        } else {
            error.to_string()
        };
        anyhow::anyhow!("cannot reach the gateway: {hint}")
    })?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "the gateway answered {status}: {text}");
    println!("{text}");
    Ok(())
}

/// `ivr-gateway keys …`.
pub async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { org, database } => {
            let database = Database::open(&database, 0).await?;
            let outcome = async {
                database.migrate().await?;
                let key = ApiKey::generate();
                let mut conn = database.pool.acquire().await?;
                if !crate::platform::directory::lookup::add_api_key(&mut conn, &org, &key).await? {
                    anyhow::bail!("no organization named '{org}'");
                }
                println!("{}", key.expose());
                eprintln!("API key for '{org}': shown once, only its SHA-256 digest is stored");
                Ok(())
            }
            .await;
            database.close().await;
            outcome
        }
    }
}

/// `ivr-gateway ready`: whether the gateway at `args.bind` answers `/readyz`.
pub async fn ready(args: ReadyArgs) -> anyhow::Result<()> {
    let mut address = args.bind;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{address}/readyz");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} does not answer"))?;
    anyhow::ensure!(response.status().is_success(), "{url} answers {}", response.status());
    Ok(())
}

/// SIGTERM or a first Ctrl-C: stop accepting, let requests in flight
/// finish (then the worker finishes its own). A second one forces the stop.
async fn stop_on_signal(server: actix_web::dev::ServerHandle) {
    shutdown_signal().await;
    tracing::info!("stopping: finishing the requests in flight (Ctrl-C again to stop at once)");
    tokio::select! {
        () = server.stop(true) => {}
        () = shutdown_signal() => {
            tracing::warn!("stopping at once");
            server.stop(false).await;
        }
    }
}

async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Reads and checks a fixtures file (no database needed): whole, or refused whole naming the line.
fn read_fixtures(path: &Path, level: PhoneValidation) -> anyhow::Result<Fixtures> {
    let source =
        std::fs::read_to_string(path).with_context(|| format!("cannot read fixtures file {}", path.display()))?;
    Fixtures::from_toml(&source, level).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

async fn apply_fixtures(pool: &PgPool, path: &Path, fixtures: &Fixtures) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let applied = crate::control::fixtures::storage::apply(&mut conn, fixtures)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    tracing::info!("loaded {applied} from {}", path.display());
    Ok(())
}

/// The pool, and the embedded cluster behind it when there is no DATABASE_URL.
struct Database {
    /// Serves requests: its statements are bounded by IVR_DB_STATEMENT_TIMEOUT.
    pool: PgPool,
    /// For migrations, on a connection of their own without that bound.
    options: PgConnectOptions,
    cluster: Option<EmbeddedPostgres>,
    /// Where the data lives, for people (no password).
    location: String,
}

impl Database {
    /// `dedicated`: connections the caller opens beside the serving pool.
    async fn open(args: &DatabaseArgs, dedicated: u32) -> anyhow::Result<Self> {
        let (url, cluster) = match &args.database_url {
            Some(url) => (url.expose().to_owned(), None),
            None => {
                let data_root = args.data_dir.clone().unwrap_or_else(ClusterOptions::default_data_root);
                let cluster = EmbeddedPostgres::start(&ClusterOptions {
                    data_root: data_root.clone(),
                    durable: true,
                })
                .await
                .context("no DATABASE_URL, and the embedded PostgreSQL could not start")?;
                (cluster.url(), Some(cluster))
            }
        };
        let options = db::parse_url(&url)?;
        let bounded = db::with_statement_timeout(options.clone(), args.db_statement_timeout);
        let pool = db::connect_with(bounded, args.serving_pool_size(dedicated), args.db_timeout);
        let location = match (&cluster, &args.data_dir) {
            (Some(_), data_dir) => format!(
                "embedded PostgreSQL in {} (127.0.0.1:{})",
                data_dir
                    .clone()
                    .unwrap_or_else(ClusterOptions::default_data_root)
                    .display(),
                options.get_port()
            ),
            (None, _) => format!(
                "DATABASE_URL, database {} on {}:{}",
                options.get_database().unwrap_or("postgres"),
                options.get_host(),
                options.get_port()
            ),
        };
        Ok(Self {
            pool,
            options,
            cluster,
            location,
        })
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        let mut said = false;
        loop {
            let migrated = async {
                let mut conn = PgConnection::connect_with(&self.options)
                    .await
                    .map_err(MigrateError::Execute)?;
                db::MIGRATOR.run(&mut conn).await
            };
            match migrated.await {
                Ok(()) => return Ok(()),
                Err(MigrateError::Execute(error))
                    if is_connection_error(&error) && started.elapsed() < DATABASE_WAIT =>
                {
                    // Said once, not once a second: the cause rarely changes.
                    if !said {
                        tracing::warn!(%error, "database not reachable yet; retrying for up to {DATABASE_WAIT:?}");
                        said = true;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => return Err(error).context("cannot apply database migrations"),
            }
        }
    }

    async fn close(mut self) {
        self.pool.close().await;
        if let Some(cluster) = &mut self.cluster {
            cluster.stop().await;
        }
    }
}

fn is_connection_error(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)
    )
}
