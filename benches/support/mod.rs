//! What the benches share: a database server and fresh databases on it.

use std::time::Duration;

use ivr_gateway::platform::db;
use ivr_gateway::platform::embedded_postgres::{ClusterOptions, EmbeddedPostgres};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

/// DATABASE_URL's server when set, else a durable throwaway cluster.
pub async fn database_server() -> anyhow::Result<(PgConnectOptions, Option<EmbeddedPostgres>)> {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return Ok((url.parse()?, None));
    }
    let data_root = std::env::temp_dir().join(format!("ivr-gateway-bench-{}", std::process::id()));
    let cluster = EmbeddedPostgres::start(&ClusterOptions {
        data_root,
        durable: true,
    })
    .await?;
    Ok((cluster.database_url("postgres").parse()?, Some(cluster)))
}

/// A migrated database of its own, and a pool of `connections` to it.
pub async fn fresh_database(server: &PgConnectOptions, connections: u32) -> anyhow::Result<(PgConnectOptions, PgPool)> {
    let name = format!("ivr_bench_{}", uuid::Uuid::new_v4().simple());
    let database = db::create_migrated_database(server, &name).await?;
    let pool = db::connect_with(database.clone(), connections, Duration::from_secs(10));
    Ok((database, pool))
}
