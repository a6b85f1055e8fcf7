//! The subcommands: `serve`, `migrate`, `seed`.

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::PgPool;

use crate::configuration::{DatabaseArgs, SeedArgs, ServeArgs};
use crate::db;
use crate::domain::PhoneValidation;
use crate::embedded_postgres::{ClusterOptions, EmbeddedPostgres};
use crate::fixtures::Fixtures;
use crate::startup::{AppState, Application};

/// How long start-up waits for a database that is not reachable yet (a
/// container still booting) before giving up.
const DATABASE_WAIT: Duration = Duration::from_secs(30);

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let database = Database::open(&args.database).await?;
    let outcome = async {
        database.migrate().await?;
        if let Some(path) = &args.fixtures {
            seed_file(&database.pool, path, args.rules.phone_validation).await?;
        }
        let listener = TcpListener::bind(args.bind).with_context(|| format!("cannot listen on {}", args.bind))?;
        let state = AppState {
            pool: database.pool.clone(),
            rules: args.rules.into(),
            db_timeout: args.database.db_timeout,
        };
        let app = Application::build(state, listener)?;
        tracing::info!("ivr-gateway listening on http://{}", args.bind);
        app.run_until_stopped().await.context("server failed")
    }
    .await;
    // The database goes last, once requests have drained.
    database.close().await;
    outcome
}

pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let database = Database::open(&args).await?;
    let outcome = database.migrate().await;
    database.close().await;
    outcome
}

pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let database = Database::open(&args.database).await?;
    let outcome = async {
        database.migrate().await?;
        seed_file(&database.pool, &args.file, args.rules.phone_validation).await
    }
    .await;
    database.close().await;
    outcome
}

/// Loads a fixtures file whole, or refuses it whole naming the line.
pub async fn seed_file(pool: &PgPool, path: &Path, level: PhoneValidation) -> anyhow::Result<()> {
    let source =
        std::fs::read_to_string(path).with_context(|| format!("cannot read fixtures file {}", path.display()))?;
    let fixtures = Fixtures::from_toml(&source, level).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut conn = pool.acquire().await?;
    let applied = db::fixtures::apply(&mut conn, &fixtures)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    tracing::info!(file = %path.display(), ?applied, "fixtures loaded");
    Ok(())
}

/// The pool, and the embedded cluster behind it when there is no DATABASE_URL.
struct Database {
    pool: PgPool,
    cluster: Option<EmbeddedPostgres>,
}

impl Database {
    async fn open(args: &DatabaseArgs) -> anyhow::Result<Self> {
        let (url, cluster) = match &args.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let data_root = args.data_dir.clone().unwrap_or_else(ClusterOptions::default_data_root);
                let cluster = EmbeddedPostgres::start(&ClusterOptions {
                    data_root: data_root.clone(),
                    durable: true,
                })
                .await
                .context("no DATABASE_URL, and the embedded PostgreSQL could not start")?;
                tracing::info!(data = %data_root.display(), port = cluster.port(), "embedded PostgreSQL running");
                (cluster.url(), Some(cluster))
            }
        };
        let pool = db::connect(&url, args.db_pool_size, args.db_timeout)?;
        Ok(Self { pool, cluster })
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            match db::MIGRATOR.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(sqlx::migrate::MigrateError::Execute(error))
                    if is_connection_error(&error) && started.elapsed() < DATABASE_WAIT =>
                {
                    tracing::warn!(%error, "database not reachable yet; retrying");
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
