//! The connection pool and the embedded migrations.

use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// `migrations/`, compiled into the binary so that every replica can apply
/// them at start-up (sqlx serialises concurrent runs with an advisory lock).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A lazily connected pool: the service starts and answers 503 while the
/// database is away, and reconnects by itself when it is back.
pub fn connect(url: &str, max_connections: u32, acquire_timeout: Duration) -> anyhow::Result<PgPool> {
    Ok(connect_with(parse_url(url)?, max_connections, acquire_timeout))
}

pub fn parse_url(url: &str) -> anyhow::Result<PgConnectOptions> {
    // sqlx reads any scheme as PostgreSQL's: mysql://… would connect to a
    // PostgreSQL server on MySQL's host and port.
    let scheme = url.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
    anyhow::ensure!(
        matches!(scheme.as_deref(), Some("postgres" | "postgresql")),
        "DATABASE_URL must start with postgres:// or postgresql://"
    );
    url.parse().context("DATABASE_URL is not a valid PostgreSQL URL")
}

/// [`connect`] for options already parsed.
pub fn connect_with(options: PgConnectOptions, max_connections: u32, acquire_timeout: Duration) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        // A connection that went through a database restart is dead: test it
        // before use rather than fail a caller's request with it.
        .test_before_acquire(true)
        .connect_lazy_with(options.application_name("ivr-gateway"))
}

/// Options whose connections cancel any statement running past `timeout`, so
/// that a stuck query frees its connection instead of holding it.
pub fn with_statement_timeout(options: PgConnectOptions, timeout: Duration) -> PgConnectOptions {
    options.options([("statement_timeout", timeout.as_millis().to_string())])
}

/// Creates database `name` on the server `server` points at and applies the
/// migrations; returns its connect options. For tests and benchmarks, which
/// want a fresh database each. `name` must be a plain identifier.
pub async fn create_migrated_database(server: &PgConnectOptions, name: &str) -> anyhow::Result<PgConnectOptions> {
    anyhow::ensure!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "not a plain database name: {name}"
    );
    let mut conn = PgConnection::connect_with(&server.clone().database("postgres")).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let options = server.clone().database(name);
    let pool = connect_with(options.clone(), 2, Duration::from_secs(10));
    MIGRATOR.run(&pool).await?;
    pool.close().await;
    Ok(options)
}

/// Ready means reachable and at the schema version this binary expects.
pub async fn is_ready(pool: &PgPool) -> bool {
    let expected = MIGRATOR.iter().map(|m| m.version).max();
    let applied: Result<Option<i64>, _> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await;
    matches!(applied, Ok(version) if version == expected)
}
