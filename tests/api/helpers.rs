//! Starting the real application against a fresh database, per test.
//!
//! The PostgreSQL server is `DATABASE_URL`'s when set; otherwise one throwaway
//! cluster per test process, started by the same launcher `serve` uses.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use ivr_gateway::configuration::{Cli, Command, SmsArgs};
use ivr_gateway::control::fixtures::Fixtures;
use ivr_gateway::platform::db;
use ivr_gateway::platform::domain::PhoneValidation;
use ivr_gateway::platform::embedded_postgres::{ClusterOptions, EmbeddedPostgres};
use ivr_gateway::platform::outbox::{RetryPolicy, WorkerSettings};
use ivr_gateway::platform::rate_limit::RateLimit;
use ivr_gateway::platform::secret::Secret;
use ivr_gateway::startup::{Application, Limits, Settings};
use ivr_gateway::surfaces::instaply_ivr::hook::HookRules;
use ivr_gateway::surfaces::instaply_ivr::sms::Worker;
use ivr_gateway::surfaces::instaply_ivr::sms::queue::SmsOutbox;
use ivr_gateway::surfaces::instaply_ivr::sms::transport::Transport;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{Mutex, OnceCell};
use tokio::task::AbortHandle;

pub const EXAMPLE_FIXTURES: &str = include_str!("../../examples/fixtures.toml");
/// The public page's example key, and the numbers of `examples/fixtures.toml`.
pub const ACME_KEY: &str = "a73d5034210f702515128ac61193cd21";
pub const GLOBEX_KEY: &str = "globex-test-key-0001";
pub const CALLER: &str = "+14151234560";
pub const ACME_SF: &str = "+14151234567";
pub const ACME_OAKLAND: &str = "+15105550123";
pub const GLOBEX_OPERA: &str = "+33142685300";
pub const OPTED_OUT_CALLER: &str = "+14155550199";

pub const DIAL_ACME_SF: &str = "<Response><Dial>+14155550100</Dial></Response>";
pub const NO_FORWARDING: &str = "<Response><Say language=\"en\">Sorry, this store did not define voice call forwarding</Say><Say language=\"fr\">Désolé, ce magasin n'a pas défini de numéro vocal</Say></Response>";
pub const NOT_LINKED: &str = "<Response><Say language=\"en\">Sorry, this number is not linked to any store</Say><Say language=\"fr\">Désolé, ce numéro n'est lié à aucun magasin</Say></Response>";

/// The PostgreSQL server tests create their databases on.
struct TestServer {
    options: PgConnectOptions,
    /// The server's URL around the database name: `postgres://…/`, `?…`.
    url_parts: (String, String),
    /// Kept alive for the whole process; the kernel stops it when we exit.
    _cluster: Option<EmbeddedPostgres>,
}

static SERVER: OnceCell<TestServer> = OnceCell::const_new();

async fn server() -> &'static TestServer {
    SERVER
        .get_or_init(|| async {
            match std::env::var("DATABASE_URL") {
                Ok(url) => {
                    let options = PgConnectOptions::from_str(&url).expect("DATABASE_URL is a PostgreSQL URL");
                    drop_stale_databases(&options).await;
                    TestServer {
                        options,
                        url_parts: split_url(&url),
                        _cluster: None,
                    }
                }
                Err(_) => {
                    let data_root = throwaway_cluster_root();
                    let cluster = EmbeddedPostgres::start(&ClusterOptions {
                        data_root: data_root.clone(),
                        durable: false,
                    })
                    .await
                    .expect("a throwaway PostgreSQL cluster (install PostgreSQL or set DATABASE_URL)");
                    if let Some(pid) = cluster.pid() {
                        remove_at_exit(pid as libc::pid_t, data_root);
                    }
                    let url = cluster.database_url("postgres");
                    let options = PgConnectOptions::from_str(&url).unwrap();
                    TestServer {
                        options,
                        url_parts: split_url(&url),
                        _cluster: Some(cluster),
                    }
                }
            }
        })
        .await
}

/// `postgres://u:p@h:1/db?x` into `postgres://u:p@h:1/` and `?x`.
fn split_url(url: &str) -> (String, String) {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let path_start = url[authority_start..]
        .find('/')
        .map_or(url.len(), |i| authority_start + i);
    let query_start = url[path_start..].find('?').map_or(url.len(), |i| path_start + i);
    (format!("{}/", &url[..path_start]), url[query_start..].to_owned())
}

/// The throwaway cluster's server and folder, for [`remove_throwaway_cluster`].
static THROWAWAY: std::sync::OnceLock<(libc::pid_t, PathBuf)> = std::sync::OnceLock::new();

/// Stops the throwaway cluster and removes its folder when the test process
/// exits (a static is never dropped), instead of leaving gigabytes in the
/// temp folder until the next run.
fn remove_at_exit(pid: libc::pid_t, folder: PathBuf) {
    if THROWAWAY.set((pid, folder)).is_ok() {
        // SAFETY: registers a plain function that only uses process-global state.
        unsafe { libc::atexit(remove_throwaway_cluster) };
    }
}

extern "C" fn remove_throwaway_cluster() {
    let Some((pid, folder)) = THROWAWAY.get() else { return };
    // SAFETY: signalling and reaping the server this process started.
    unsafe { libc::kill(*pid, libc::SIGQUIT) };
    for _ in 0..200 {
        let mut status = 0;
        // SAFETY: as above; WNOHANG never blocks.
        if unsafe { libc::waitpid(*pid, &mut status, libc::WNOHANG) } != 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = std::fs::remove_dir_all(folder);
}

/// `<tmp>/ivr-gateway-tests/<pid>`, after removing the folders of test
/// processes that are gone.
fn throwaway_cluster_root() -> PathBuf {
    let parent = std::env::temp_dir().join("ivr-gateway-tests");
    std::fs::create_dir_all(&parent).unwrap();
    for entry in std::fs::read_dir(&parent).unwrap().flatten() {
        let pid: Option<i32> = entry.file_name().to_str().and_then(|name| name.parse().ok());
        // SAFETY: signal 0 only checks whether the process exists.
        if pid.is_some_and(|pid| unsafe { libc::kill(pid, 0) } != 0) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    parent.join(std::process::id().to_string())
}

/// Test databases are named `ivr_test_<unix seconds>_<random>`; those over an
/// hour old on a shared server are left-overs of earlier runs.
async fn drop_stale_databases(options: &PgConnectOptions) {
    let Ok(mut conn) = PgConnection::connect_with(&options.clone().database("postgres")).await else {
        return;
    };
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'ivr_test_%'")
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
    let hour_ago = unix_seconds() - 3600;
    for name in names {
        let created: Option<u64> = name.split('_').nth(2).and_then(|s| s.parse().ok());
        if created.is_some_and(|created| created < hour_ago) {
            let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut conn).await;
        }
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// A fresh, migrated database; returns its connect options.
pub async fn fresh_database() -> PgConnectOptions {
    let server = server().await;
    let name = format!("ivr_test_{}_{}", unix_seconds(), uuid::Uuid::new_v4().simple());
    db::create_migrated_database(&server.options, &name).await.unwrap()
}

/// The URL of database `options` (for subcommands run as processes).
pub fn database_url(options: &PgConnectOptions) -> String {
    let server = SERVER.get().expect("a test database was created first");
    let (prefix, suffix) = &server.url_parts;
    format!(
        "{prefix}{}{suffix}",
        options.get_database().expect("test options name a database")
    )
}

pub struct TestSettings {
    pub rules: HookRules,
    pub db_timeout: Duration,
    pub fixtures: Option<&'static str>,
    /// Route the application's connections through a proxy the test can cut.
    pub through_proxy: bool,
    pub admin_token: Option<&'static str>,
    pub rate_limit: RateLimit,
    pub limits: Limits,
    /// PostgreSQL's statement_timeout on the application's connections.
    pub statement_timeout: Option<Duration>,
    /// Run the SMS worker inside the application (capture), as `serve` does.
    pub sms_worker: bool,
}

impl Default for TestSettings {
    fn default() -> Self {
        Self {
            rules: HookRules {
                phone_validation: PhoneValidation::Possible,
                welcome_cooldown: Duration::from_secs(86_400),
            },
            db_timeout: Duration::from_secs(5),
            fixtures: Some(EXAMPLE_FIXTURES),
            through_proxy: false,
            admin_token: None,
            rate_limit: RateLimit {
                per_second: 0.0,
                burst: 0,
            },
            limits: Limits::default(),
            statement_timeout: None,
            sms_worker: false,
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// A direct pool to the test's database, for assertions.
    pub pool: PgPool,
    pub database: PgConnectOptions,
    pub client: reqwest::Client,
    pub proxy: Option<DatabaseProxy>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestSettings::default()).await
}

pub async fn spawn_app_with(settings: TestSettings) -> TestApp {
    // Logs only on request: RUST_LOG=info cargo test … shows the access log.
    if std::env::var_os("RUST_LOG").is_some() {
        ivr_gateway::platform::telemetry::init(Default::default());
    }
    let database = fresh_database().await;
    let pool = db::connect_with(database.clone(), 16, Duration::from_secs(10));
    if let Some(fixtures) = settings.fixtures {
        let fixtures = Fixtures::from_toml(fixtures, settings.rules.phone_validation).expect("valid test fixtures");
        ivr_gateway::control::fixtures::storage::apply(&mut pool.acquire().await.unwrap(), &fixtures)
            .await
            .unwrap();
    }
    let (app_options, proxy) = if settings.through_proxy {
        let proxy = DatabaseProxy::start(database.get_host(), database.get_port()).await;
        (database.clone().host("127.0.0.1").port(proxy.port), Some(proxy))
    } else {
        (database.clone(), None)
    };
    let app_options = match settings.statement_timeout {
        Some(timeout) => db::with_statement_timeout(app_options, timeout),
        None => app_options,
    };
    let address = serve(app_options, &settings);
    TestApp {
        address,
        pool,
        database,
        client: reqwest::Client::new(),
        proxy,
    }
}

/// Runs the application on port 0 against `database`, built as `serve`
/// builds it; returns its base URL.
fn serve(database: PgConnectOptions, settings: &TestSettings) -> String {
    let app_pool = db::connect_with(database, 8, settings.db_timeout);
    let app_settings = Settings {
        rules: settings.rules,
        rate_limit: settings.rate_limit,
        limits: settings.limits,
        db_timeout: settings.db_timeout,
        admin_token: settings.admin_token.map(Secret::new),
        // Tests prune by hand (tests/api/retention.rs).
        retention: Duration::ZERO,
        sms_worker: settings
            .sms_worker
            .then(|| worker_args(&["--sms-poll-interval", "50ms"])),
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let app = Application::build(app_settings, app_pool, listener).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// The SMS worker's settings as `ivr-gateway worker` would read these flags.
pub fn worker_args(flags: &[&str]) -> SmsArgs {
    let args = ["ivr-gateway", "worker"].iter().chain(flags);
    match Cli::try_parse_from(args).unwrap().command {
        Command::Worker(worker) => worker.sms,
        _ => unreachable!("parsed the worker subcommand"),
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Self {
            status,
            content_type,
            headers,
            body: response.text().await.unwrap(),
        }
    }

    /// Asserts a TwiML answer with exactly these bytes.
    #[track_caller]
    pub fn assert_twiml(&self, body: &str) {
        assert_eq!(
            (self.status, self.content_type.as_str(), self.body.as_str()),
            (200, "text/xml; charset=utf-8", body)
        );
    }

    /// Asserts a JSON error with exactly this status and body.
    #[track_caller]
    pub fn assert_json(&self, status: u16, body: &str) {
        assert_eq!(
            (self.status, self.content_type.as_str(), self.body.as_str()),
            (status, "application/json", body)
        );
    }
}

impl TestApp {
    /// A second replica on the same database, with default settings.
    pub fn replica(&self) -> TestApp {
        TestApp {
            address: serve(self.database.clone(), &TestSettings::default()),
            pool: self.pool.clone(),
            database: self.database.clone(),
            client: reqwest::Client::new(),
            proxy: None,
        }
    }

    /// `GET /v1/ivr?<query>`, the query sent exactly as written.
    pub async fn get(&self, query: &str) -> Answer {
        Answer::read(
            self.client
                .get(format!("{}/v1/ivr?{query}", self.address))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// `GET` of the example request shape with these values (percent-encoded here).
    pub async fn call(&self, key: &str, from: &str, to: &str) -> Answer {
        self.get(&format!("key={}&from={}&to={}", encode(key), encode(from), encode(to)))
            .await
    }

    pub async fn post(&self, query: &str, content_type: Option<&str>, body: impl Into<reqwest::Body>) -> Answer {
        let mut request = self.client.post(format!("{}/v1/ivr?{query}", self.address)).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        Answer::read(request.send().await.unwrap()).await
    }

    pub async fn request(&self, method: reqwest::Method, path: &str) -> Answer {
        Answer::read(
            self.client
                .request(method, format!("{}{path}", self.address))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn sms_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM sms_outbox")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The newest journal row.
    pub async fn last_call(&self) -> CallRow {
        sqlx::query_as("SELECT method, from_number, to_number, context, outcome, http_status, store_id, organization_id, sms_id, sms_skipped FROM calls ORDER BY id DESC LIMIT 1")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn organization_id(&self, name: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM organizations WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    pub async fn store_id(&self, name: &str) -> i64 {
        sqlx::query_scalar("SELECT id FROM stores WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

/// A `capture` worker on the test's database, retrying after `retry_delay`
/// (the jitter band is [delay/2, delay]), five attempts at most.
pub fn capture_worker(app: &TestApp, retry_delay: Duration) -> Worker {
    let policy = RetryPolicy {
        base: retry_delay,
        cap: retry_delay,
        max_attempts: 5,
    };
    let settings = WorkerSettings {
        batch_size: 10,
        concurrency: 2,
        lease: Duration::from_secs(30),
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_secs(1),
    };
    Worker::new(
        app.pool.clone(),
        SmsOutbox,
        Transport::Capture,
        policy,
        settings,
        ivr_gateway::surfaces::instaply_ivr::sms::queue::counters(),
    )
}

/// Holds the (Acme SF, CALLER) cool-down row in an open transaction, so the
/// hook's transaction for that call waits on it: a call "in flight".
pub async fn hold_cooldown_row(app: &TestApp) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let store = app.store_id("Acme San Francisco").await;
    let mut blocker = app.pool.begin().await.unwrap();
    sqlx::query("INSERT INTO welcome_cooldowns (store_id, caller, sent_at) VALUES ($1, $2, now() - interval '2 days')")
        .bind(store)
        .bind(CALLER)
        .execute(&mut *blocker)
        .await
        .unwrap();
    blocker
}

#[derive(Debug, sqlx::FromRow)]
pub struct CallRow {
    pub method: String,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub context: Option<String>,
    pub outcome: String,
    pub http_status: i16,
    pub store_id: Option<i64>,
    pub organization_id: Option<i64>,
    pub sms_id: Option<uuid::Uuid>,
    pub sms_skipped: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
pub struct SmsRow {
    pub from_number: String,
    pub to_number: String,
    pub body: String,
    pub context: Option<String>,
    pub status: String,
    pub attempts: i32,
}

pub async fn sms(pool: &PgPool, id: uuid::Uuid) -> SmsRow {
    sqlx::query_as("SELECT from_number, to_number, body, context, status, attempts FROM sms_outbox WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A TCP proxy in front of PostgreSQL that a test can cut (every connection
/// dropped, new ones refused) and restore: the database "going away". It can
/// also break the connection of the next `COMMIT` it sees, either before the
/// database gets it or after the database got it but before its answer
/// comes back: the two sides of an ambiguous commit.
pub struct DatabaseProxy {
    pub port: u16,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    commit_trap: Arc<std::sync::Mutex<Option<CommitTrap>>>,
    sprung: Arc<AtomicBool>,
}

/// What the proxy does to the next `COMMIT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitTrap {
    /// The database commits; its answer never reaches the application.
    LoseTheAnswer,
    /// The database never sees the COMMIT and rolls the transaction back.
    DropTheCommit,
}

/// The simple-protocol message `COMMIT`, as sqlx sends it.
const COMMIT_MESSAGE: &[u8] = b"Q\x00\x00\x00\x0bCOMMIT\x00";

impl DatabaseProxy {
    async fn start(upstream_host: &str, upstream_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let commit_trap = Arc::new(std::sync::Mutex::new(None));
        let sprung = Arc::new(AtomicBool::new(false));
        let upstream = format!("{upstream_host}:{upstream_port}");
        let (accept_open, accept_connections) = (open.clone(), connections.clone());
        let (trap, accept_sprung) = (commit_trap.clone(), sprung.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accept_open.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let upstream = upstream.clone();
                let (trap, sprung) = (trap.clone(), accept_sprung.clone());
                let task = tokio::spawn(async move {
                    if let Ok(server) = tokio::net::TcpStream::connect(upstream).await {
                        relay(client, server, trap, sprung).await;
                    }
                });
                accept_connections.lock().await.push(task.abort_handle());
            }
        });
        Self {
            port,
            open,
            connections,
            commit_trap,
            sprung,
        }
    }

    pub async fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().await.drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// Sets `trap` for the next COMMIT on any connection.
    pub fn trap_next_commit(&self, trap: CommitTrap) {
        self.sprung.store(false, Ordering::SeqCst);
        *self.commit_trap.lock().unwrap() = Some(trap);
    }

    /// Whether the trap set last has caught a COMMIT.
    pub fn trap_sprung(&self) -> bool {
        self.sprung.load(Ordering::SeqCst)
    }
}

/// Copies bytes both ways, watching the application's side for a trapped COMMIT.
async fn relay(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    trap: Arc<std::sync::Mutex<Option<CommitTrap>>>,
    sprung: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let muted = Arc::new(AtomicBool::new(false));
    let answers_muted = muted.clone();
    let answers = tokio::spawn(async move {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = server_read.read(&mut buffer).await {
            if answers_muted.load(Ordering::SeqCst) || client_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
        let chunk = &buffer[..n];
        let caught = if chunk.windows(COMMIT_MESSAGE.len()).any(|w| w == COMMIT_MESSAGE) {
            trap.lock().unwrap().take()
        } else {
            None
        };
        match caught {
            None => {
                if server_write.write_all(chunk).await.is_err() {
                    break;
                }
            }
            Some(CommitTrap::LoseTheAnswer) => {
                muted.store(true, Ordering::SeqCst);
                sprung.store(true, Ordering::SeqCst);
                let _ = server_write.write_all(chunk).await;
                // Time for the database to commit before both sides go.
                tokio::time::sleep(Duration::from_millis(300)).await;
                break;
            }
            Some(CommitTrap::DropTheCommit) => {
                sprung.store(true, Ordering::SeqCst);
                break;
            }
        }
    }
    answers.abort();
}

/// Path of the built `ivr-gateway` binary.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ivr-gateway"))
}

/// Polls `probe` until it holds or `limit` passes; whether it held.
pub async fn wait_for<F, Fut>(limit: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
