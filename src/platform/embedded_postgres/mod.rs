//! The embedded default database: a private PostgreSQL cluster run from the
//! server binaries installed on this machine, kept in a data folder of its
//! own, listening on loopback only, with a generated password.
//!
//! A second process pointed at the same folder (a `seed` while `serve` runs)
//! finds the running server through `postmaster.pid` and shares it.

mod account;
mod binaries;
mod keeper;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::{Connection, PgConnection};

pub use binaries::{NotFound, ServerBinaries, locate};

/// How long a fresh server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fast shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// The database the gateway uses inside its cluster.
const DATABASE: &str = "ivr_gateway";

#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Holds `pgdata/`, the password file and `postgres.log`.
    pub data_root: PathBuf,
    /// `false` for throwaway clusters (tests): no fsync, nothing survives a crash.
    pub durable: bool,
}

impl ClusterOptions {
    /// The default data folder: `/var/lib/ivr-gateway` as root (the `postgres`
    /// account cannot enter root's home), else the XDG data folder.
    pub fn default_data_root() -> PathBuf {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            return PathBuf::from("/var/lib/ivr-gateway");
        }
        std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
            .unwrap_or_else(std::env::temp_dir)
            .join("ivr-gateway")
    }
}

/// A running cluster. Stop it with [`stop`](Self::stop); if this process dies
/// instead, the kernel tells the server to shut down (`PR_SET_PDEATHSIG`).
#[derive(Debug)]
pub struct EmbeddedPostgres {
    options: ClusterOptions,
    port: u16,
    password: String,
    /// `None` when another process started the server and owns its lifetime.
    child: Option<Child>,
}

impl EmbeddedPostgres {
    /// Starts the cluster under `options.data_root`, creating it on first use,
    /// or joins the server already running there.
    pub async fn start(options: &ClusterOptions) -> anyhow::Result<Self> {
        let binaries = binaries::locate()?;
        let account = account::server_account()?;
        let root = &options.data_root;
        fs::create_dir_all(root).with_context(|| format!("cannot create data folder {}", root.display()))?;
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))?;
        account::give(root, account)?;
        let pgdata = root.join("pgdata");
        let password = password(root)?;
        if !pgdata.join("PG_VERSION").exists() {
            initdb(&binaries, &pgdata, &password, account, options.durable)?;
        }
        let (port, child) = match running_port(&pgdata) {
            Some(port) => (port, None),
            None => {
                let port = free_port()?;
                (port, Some(spawn_server(&binaries, options, &pgdata, port, account)?))
            }
        };
        let mut cluster = Self {
            options: options.clone(),
            port,
            password,
            child,
        };
        if let Err(error) = cluster.wait_until_accepting(root).await {
            cluster.stop().await;
            return Err(error);
        }
        cluster.create_database(DATABASE).await?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id, when this process started it.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The URL of the gateway's own database in this cluster.
    pub fn url(&self) -> String {
        self.database_url(DATABASE)
    }

    pub fn database_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    pub async fn create_database(&self, name: &str) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect(&self.database_url("postgres")).await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
        if !exists {
            // CREATE DATABASE takes no bind parameters; the name is ours, quoted.
            let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut conn).await?;
        }
        Ok(())
    }

    /// Fast shutdown (clients are disconnected, everything committed is
    /// kept), then a kill if it hangs. Does nothing for a shared server.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(&child, libc::SIGINT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::warn!("PostgreSQL did not stop within {STOP_TIMEOUT:?}; killing it");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the server at once, as a crash would: immediate shutdown
    /// (SIGQUIT), no checkpoint, whatever was not yet flushed is lost. For
    /// fault drills; [`restart`](Self::restart) brings it back.
    pub async fn crash(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        signal(&child, libc::SIGQUIT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the server again, on the same port, after [`stop`](Self::stop)
    /// or [`crash`](Self::crash); it recovers from its WAL as after any crash.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("the server is running");
        }
        let binaries = binaries::locate()?;
        let account = account::server_account()?;
        let pgdata = self.options.data_root.join("pgdata");
        self.child = Some(spawn_server(&binaries, &self.options, &pgdata, self.port, account)?);
        let root = self.options.data_root.clone();
        self.wait_until_accepting(&root).await
    }

    async fn wait_until_accepting(&mut self, root: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let url = self.database_url("postgres");
        loop {
            if let Some(child) = &mut self.child
                && let Some(status) = child.try_wait()?
            {
                bail!("PostgreSQL exited at start-up ({status}); its log:\n{}", log_tail(root));
            }
            match PgConnection::connect(&url).await {
                Ok(conn) => return Ok(conn.close().await?),
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(error) => bail!(
                    "PostgreSQL did not accept connections within {START_TIMEOUT:?}: {error}; its log:\n{}",
                    log_tail(root)
                ),
            }
        }
    }
}

/// The cluster's superuser password: generated once, kept beside the data
/// (mode 0600, owned by whoever runs the gateway).
fn password(root: &Path) -> anyhow::Result<String> {
    let path = root.join("password");
    if let Ok(existing) = fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    let password = uuid::Uuid::new_v4().simple().to_string();
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(password.as_bytes())?;
    Ok(password)
}

fn initdb(
    binaries: &ServerBinaries,
    pgdata: &Path,
    password: &str,
    account: Option<account::Account>,
    durable: bool,
) -> anyhow::Result<()> {
    let root = pgdata.parent().expect("pgdata has a parent");
    // initdb reads the password from a file the server account can read.
    let pwfile = root.join("initdb-password");
    fs::write(&pwfile, password)?;
    fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600))?;
    account::give(&pwfile, account)?;
    let mut command = Command::new(binaries.initdb());
    command
        .arg("--pgdata")
        .arg(pgdata)
        .args([
            "--username=postgres",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ])
        .arg(format!("--pwfile={}", pwfile.display()));
    if !durable {
        command.arg("--no-sync");
    }
    run_as(&mut command, account, root);
    let output = command.output().context("cannot run initdb")?;
    let _ = fs::remove_file(&pwfile);
    if !output.status.success() {
        let _ = fs::remove_dir_all(pgdata);
        bail!(
            "initdb failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn spawn_server(
    binaries: &ServerBinaries,
    options: &ClusterOptions,
    pgdata: &Path,
    port: u16,
    account: Option<account::Account>,
) -> anyhow::Result<Child> {
    let root = &options.data_root;
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join("postgres.log"))?;
    let mut command = Command::new(binaries.postgres());
    command
        .arg("-D")
        .arg(pgdata)
        .args(["-p", &port.to_string()])
        // Loopback TCP only: no Unix socket, whose folder would need sharing.
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: a Ctrl-C in the terminal must reach the
        // gateway, which drains requests, and not the database under it.
        .process_group(0);
    if !options.durable {
        command.args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]);
    }
    run_as(&mut command, account, root);
    keeper::spawn(command).context("cannot start postgres")
}

/// Runs `command` as `account` (when set) from `dir`, which it can enter.
fn run_as(command: &mut Command, account: Option<account::Account>, dir: &Path) {
    command.current_dir(dir);
    if let Some(account) = account {
        command.uid(account.uid).gid(account.gid);
    }
}

/// The port of a live server already running on `pgdata`, from `postmaster.pid`
/// (line 1: pid, line 4: port).
fn running_port(pgdata: &Path) -> Option<u16> {
    let pidfile = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    let mut lines = pidfile.lines();
    let pid: i32 = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    let alive =
        unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive.then_some(port)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn signal(child: &Child, signal: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(pid, signal) };
    }
}

fn log_tail(root: &Path) -> String {
    let log = fs::read_to_string(root.join("postgres.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
