//! The binary as a newcomer runs it: `serve`, `seed`, `migrate`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ivr_gateway::platform::embedded_postgres::{ClusterOptions, EmbeddedPostgres};
use sqlx::{Connection, PgConnection};

use crate::helpers::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `serve` process, killed if a test fails before stopping it.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Served {
    /// `serve` with the example fixtures on a free loopback port; `database`
    /// sets how it finds PostgreSQL.
    fn start(database: impl FnOnce(&mut Command) -> &mut Command) -> (Self, String) {
        let port = free_port();
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .env("IVR_BIND", format!("127.0.0.1:{port}"))
            .env(
                "IVR_FIXTURES",
                concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fixtures.toml"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        database(&mut command);
        (Self(command.spawn().unwrap()), format!("http://127.0.0.1:{port}"))
    }

    /// SIGTERM, then the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        self.0.wait().unwrap()
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status() == 200
        {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "serve exited early");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("serve did not become ready");
}

async fn example_request(client: &reqwest::Client, base: &str) -> (u16, String) {
    let url = format!("{base}/v1/ivr?key=a73d5034210f702515128ac61193cd21&from=%2B14151234560&to=%2B14151234567");
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn serve_with_example_fixtures_answers_the_example_request_and_stops_on_sigterm() {
    let database = fresh_database().await;
    let (mut served, base) = Served::start(|command| command.env("DATABASE_URL", database_url(&database)));
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut served.0).await;
    assert_eq!(example_request(&client, &base).await, (200, DIAL_ACME_SF.to_owned()));
    // The health check the container image runs.
    let ready = Command::new(binary())
        .arg("ready")
        .env("IVR_BIND", base.trim_start_matches("http://"))
        .output()
        .unwrap();
    assert!(ready.status.success(), "{}", String::from_utf8_lossy(&ready.stderr));
    assert!(served.terminate().success());
    let mut log = String::new();
    std::io::Read::read_to_string(served.0.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("key=***"), "the access log shows the request: {log}");
    assert!(!log.contains(ACME_KEY), "the access log leaks the key: {log}");
    // The banner (stdout) offers the very request answered above.
    let mut banner = String::new();
    std::io::Read::read_to_string(served.0.stdout.as_mut().unwrap(), &mut banner).unwrap();
    let try_line = format!("try:   curl '{base}/v1/ivr?key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567'");
    assert!(banner.contains(&try_line), "{banner}");
    assert!(banner.contains(&format!("is ready on {base}")), "{banner}");
}

#[tokio::test]
async fn serve_with_no_database_url_runs_its_own_postgres_in_the_data_folder() {
    let data_dir = std::env::temp_dir().join(format!("ivr-gateway-serve-{}", uuid::Uuid::new_v4().simple()));
    let client = reqwest::Client::new();
    for run in 0..2 {
        let (mut served, base) = Served::start(|command| {
            command
                .env_remove("DATABASE_URL")
                .env("IVR_DATA_DIR", &data_dir)
                .stderr(Stdio::null())
        });
        wait_ready(&client, &base, &mut served.0).await;
        assert_eq!(
            example_request(&client, &base).await,
            (200, DIAL_ACME_SF.to_owned()),
            "run {run}"
        );
        assert!(served.terminate().success());
        assert!(
            !data_dir.join("pgdata/postmaster.pid").exists(),
            "the embedded server must stop with serve (run {run})"
        );
    }
    // Both runs' calls are in the journal: the data folder is kept between runs.
    let options = ClusterOptions {
        data_root: data_dir.clone(),
        durable: true,
    };
    let mut cluster = EmbeddedPostgres::start(&options).await.unwrap();
    let mut conn = PgConnection::connect(&cluster.url()).await.unwrap();
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM calls")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(calls, 2);
    conn.close().await.unwrap();
    cluster.stop().await;
    std::fs::remove_dir_all(&data_dir).unwrap();
}

#[tokio::test]
async fn seed_refuses_a_bad_file_naming_the_line_and_applies_nothing() {
    let database = fresh_database().await;
    let file = std::env::temp_dir().join(format!("bad-fixtures-{}.toml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, "[[organizations]]\nname = \"A\"\napi_keys = [\"k\"]\n[[organizations.stores]]\nname = \"S\"\nphones = [\"+1 415 123 4567\"]\n").unwrap();
    let output = Command::new(binary())
        .arg("seed")
        .arg(&file)
        .env("DATABASE_URL", database_url(&database))
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "ivr-gateway: {}: line 6: '+1 415 123 4567': Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits",
        file.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    let pool = ivr_gateway::platform::db::connect_with(database, 1, Duration::from_secs(5));
    let organizations: i64 = sqlx::query_scalar("SELECT count(*) FROM organizations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(organizations, 0);
}

#[tokio::test]
async fn seed_loads_the_example_file_and_migrate_is_idempotent() {
    let database = fresh_database().await;
    let url = database_url(&database);
    for _ in 0..2 {
        let status = Command::new(binary())
            .arg("migrate")
            .env("DATABASE_URL", &url)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let status = Command::new(binary())
        .args(["seed", concat!(env!("CARGO_MANIFEST_DIR"), "/examples/fixtures.toml")])
        .env("DATABASE_URL", &url)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pool = ivr_gateway::platform::db::connect_with(database, 1, Duration::from_secs(5));
    let stores: Vec<String> = sqlx::query_scalar("SELECT name FROM stores ORDER BY name")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stores, ["Acme Oakland", "Acme San Francisco", "Globex Opéra"]);
}

#[test]
fn a_bad_setting_is_refused_with_a_clear_message() {
    let output = Command::new(binary())
        .args(["serve", "--welcome-cooldown", "soon"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("'soon' is not a duration such as 24h, 30m, 90s or 0"),
        "{stderr}"
    );

    let output = Command::new(binary())
        .args(["serve", "--phone-validation", "strict"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[possible values: format, possible, valid]"),
        "{stderr}"
    );
}

#[tokio::test]
async fn call_prints_what_the_caller_hears_for_each_outcome() {
    let app = spawn_app().await;
    let url = format!("{}/v1/ivr", app.address);
    let cases = [
        ("get", ACME_KEY, ACME_SF, true, "HTTP 200 OK\nDial +14155550100\n"),
        (
            "post",
            ACME_KEY,
            ACME_OAKLAND,
            true,
            "HTTP 200 OK\nSay (en): Sorry, this store did not define voice call forwarding\nSay (fr): Désolé, ce magasin n'a pas défini de numéro vocal\n",
        ),
        (
            "form",
            ACME_KEY,
            GLOBEX_OPERA,
            true,
            "HTTP 200 OK\nSay (en): Sorry, this number is not linked to any store\nSay (fr): Désolé, ce numéro n'est lié à aucun magasin\n",
        ),
        (
            "get",
            "nope",
            ACME_SF,
            false,
            "HTTP 403 Forbidden\nkey: Invalid API Key\n",
        ),
        (
            "form",
            ACME_KEY,
            "4151234567",
            false,
            "HTTP 400 Bad Request\nto: Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits\n",
        ),
    ];
    for (method, key, to, success, transcript) in cases {
        // Async: the gateway answering runs on this test's own runtime.
        let output = tokio::process::Command::new(binary())
            .args([
                "call",
                "--url",
                &url,
                "--key",
                key,
                "--from",
                CALLER,
                "--to",
                to,
                "--method",
                method,
                "--context",
                "OPT_IN",
            ])
            .output()
            .await
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), transcript, "{method} {to}");
        assert_eq!(output.status.success(), success, "{method} {to}");
    }
    let methods: Vec<String> =
        sqlx::query_scalar("SELECT method || ' ' || coalesce(context, '-') FROM calls ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        methods,
        ["GET OPT_IN", "POST OPT_IN", "POST OPT_IN", "GET OPT_IN", "POST OPT_IN"]
    );
}

#[tokio::test]
async fn call_fails_clearly_when_nothing_answers() {
    let port = free_port();
    let call = |url: &str| {
        Command::new(binary())
            .args([
                "call",
                "--url",
                url,
                "--key",
                "s3cret-key",
                "--from",
                CALLER,
                "--to",
                ACME_SF,
            ])
            .output()
            .unwrap()
    };
    let output = call(&format!("http://127.0.0.1:{port}/v1/ivr"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "ivr-gateway: cannot call http://127.0.0.1:{port}: cannot connect (Connection refused"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Start it with `ivr-gateway serve`"), "{stderr}");
    assert!(!stderr.contains("s3cret-key"), "the key is never printed: {stderr}");

    let output = call(&format!("127.0.0.1:{port}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("'127.0.0.1:{port}' is not an http(s) URL: write it whole")),
        "{stderr}"
    );
}

#[tokio::test]
async fn keys_create_prints_a_working_key_once_and_stores_only_its_digest() {
    let app = spawn_app().await;
    let url = database_url(&app.database);
    let output = Command::new(binary())
        .args(["keys", "create", "--org", "Acme Retail"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let key = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(key.len(), 32);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
    app.call(&key, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM api_keys t")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!dump.contains(&key));

    let output = Command::new(binary())
        .args(["keys", "create", "--org", "Nobody"])
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no organization named 'Nobody'"));
}

#[test]
fn serve_refuses_a_public_bind_without_an_admin_token() {
    let output = Command::new(binary())
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env_remove("IVR_ADMIN_TOKEN")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to serve the admin API on 0.0.0.0:0 without a token: set IVR_ADMIN_TOKEN"),
        "{stderr}"
    );
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_never_a_secret() {
    let database = fresh_database().await;
    let (mut served, base) = Served::start(|command| {
        command
            .env("DATABASE_URL", database_url(&database))
            .env("IVR_LOG_FORMAT", "json")
            .env("IVR_ADMIN_TOKEN", "admin-s3cret-token")
    });
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut served.0).await;

    let hook = format!("{base}/v1/ivr?key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567");
    let answer = client
        .get(&hook)
        .header("x-request-id", "req-42.a:b")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "req-42.a:b");
    let admin = client
        .get(format!("{base}/admin/calls"))
        .header("authorization", "Bearer admin-s3cret-token")
        .header("token", "bot-s3cret-token")
        .header("x-request-id", "not loggable")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 200);
    // Misspelt key parameters: their values must not reach the log either.
    for query in ["kye=misspelt-s3cret", "key%3Dencoded-s3cret", "token=query-s3cret"] {
        let answer = client
            .get(format!("{base}/v1/ivr?{query}&to=%2B14151234567"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400);
    }
    // A request the HTTP parser refuses (a header line without a colon)
    // never reaches a handler; it gets an access line all the same.
    let malformed = send_raw(
        &base,
        "GET /v1/ivr?key=malformed-s3cret HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    )
    .await;
    assert!(malformed.starts_with("HTTP/1.1 400"), "{malformed}");
    let generated = admin.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(
        uuid::Uuid::parse_str(&generated).is_ok(),
        "a request id is made when the given one is unsafe: {generated}"
    );
    assert!(served.terminate().success());

    let mut log = String::new();
    std::io::Read::read_to_string(served.0.stderr.as_mut().unwrap(), &mut log).unwrap();
    for secret in [
        ACME_KEY,
        "admin-s3cret-token",
        "bot-s3cret-token",
        "misspelt-s3cret",
        "encoded-s3cret",
        "query-s3cret",
        "malformed-s3cret",
    ] {
        assert!(!log.contains(secret), "the log holds a secret: {log}");
    }
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let access = |id: &str| {
        lines
            .iter()
            .find(|line| line["target"] == "access" && line["span"]["request_id"] == id)
            .unwrap_or_else(|| panic!("no access line for {id}: {log}"))
            .clone()
    };
    let hook_line = access("req-42.a:b");
    assert_eq!(hook_line["fields"]["status"], 200);
    assert_eq!(
        hook_line["span"]["target"],
        "/v1/ivr?key=***&from=%2B14151234560&to=%2B14151234567"
    );
    assert_eq!(access(&generated)["span"]["method"], "GET");
    let targets: Vec<&str> = lines
        .iter()
        .filter(|line| line["target"] == "access")
        .filter_map(|line| line["span"]["target"].as_str())
        .collect();
    for redacted in [
        "/v1/ivr?kye=***&to=%2B14151234567",
        "/v1/ivr?***&to=%2B14151234567",
        "/v1/ivr?token=***&to=%2B14151234567",
    ] {
        assert!(targets.contains(&redacted), "{redacted} not in {targets:?}");
    }
    let rejected = lines
        .iter()
        .find(|line| line["target"] == "access" && line["fields"]["rejected"] == "malformed request")
        .unwrap_or_else(|| panic!("no access line for the malformed request: {log}"));
    assert_eq!(rejected["fields"]["status"], 400);
}

/// Writes `request` as is to the server at `base` and reads the answer.
async fn send_raw(base: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish() {
    a_signal_lets_the_request_in_flight_finish(libc::SIGTERM).await;
}

#[tokio::test]
async fn ctrl_c_lets_the_request_in_flight_finish_too() {
    a_signal_lets_the_request_in_flight_finish(libc::SIGINT).await;
}

async fn a_signal_lets_the_request_in_flight_finish(signal: i32) {
    let database = fresh_database().await;
    let (mut served, base) = Served::start(|command| command.env("DATABASE_URL", database_url(&database)));
    let client = reqwest::Client::new();
    wait_ready(&client, &base, &mut served.0).await;
    // Hold the cool-down row the call needs, so the call is in flight on SIGTERM.
    let pool = ivr_gateway::platform::db::connect_with(database, 2, Duration::from_secs(5));
    let mut blocker = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO welcome_cooldowns (store_id, caller, sent_at)
         SELECT id, '+14151234560', now() - interval '2 days' FROM stores WHERE name = 'Acme San Francisco'",
    )
    .execute(&mut *blocker)
    .await
    .unwrap();
    let in_flight = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move { example_request(&client, &base).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(served.0.id() as i32, signal) };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        served.0.try_wait().unwrap().is_none(),
        "serve must wait for the request in flight"
    );
    blocker.rollback().await.unwrap();
    assert_eq!(in_flight.await.unwrap(), (200, DIAL_ACME_SF.to_owned()));
    // The server is another process: waiting on it here blocks nothing it needs.
    assert!(served.0.wait().unwrap().success());
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM calls")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(calls, 1, "the call was journaled before the process left");
}

#[test]
fn settings_are_checked_before_anything_starts() {
    let data = std::env::temp_dir().join(format!("ivr-gateway-unstarted-{}", uuid::Uuid::new_v4().simple()));
    let port = free_port();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("IVR_SMS_TRANSPORT", "webhook")],
            "IVR_SMS_TRANSPORT=webhook needs IVR_SMS_WEBHOOK_URL and IVR_SMS_WEBHOOK_SECRET",
        ),
        (
            &[("IVR_SMS_LEASE", "5s"), ("IVR_SMS_HTTP_TIMEOUT", "10s")],
            "IVR_SMS_LEASE (5s) must be longer than IVR_SMS_HTTP_TIMEOUT (10s)",
        ),
        (
            &[("DATABASE_URL", "mysql://root@127.0.0.1:3306/ivr")],
            "DATABASE_URL must start with postgres:// or postgresql://",
        ),
        (
            &[("IVR_FIXTURES", "/nonexistent/fixtures.toml")],
            "cannot read fixtures file /nonexistent/fixtures.toml",
        ),
    ];
    for (settings, refusal) in cases {
        let mut command = Command::new(binary());
        command
            .arg("serve")
            .env_remove("DATABASE_URL")
            .env("IVR_DATA_DIR", &data)
            .env("IVR_BIND", format!("127.0.0.1:{port}"));
        for (name, value) in settings {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{settings:?}");
        assert!(stderr.contains(refusal), "{settings:?}: {stderr}");
        assert!(
            !data.exists(),
            "{settings:?}: the embedded database was started before the refusal"
        );
    }
}

#[test]
fn a_pool_too_small_for_the_writers_is_refused_before_anything_starts() {
    let output = Command::new(binary())
        .args(["serve", "--db-pool-size", "4"])
        .env_remove("DATABASE_URL")
        .env("IVR_DATA_DIR", "/nonexistent/never-created")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("IVR_DB_POOL_SIZE (4) must be more than the 9 connections the writers and the listener hold"),
        "{stderr}"
    );
}

#[test]
fn ready_fails_when_nothing_answers() {
    let port = free_port();
    let output = Command::new(binary())
        .arg("ready")
        .env("IVR_BIND", format!("0.0.0.0:{port}"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port}/readyz does not answer")),
        "{stderr}"
    );
}
