//! Command line and environment (docs/ivr-hook.md §8): every setting is a flag
//! with an environment variable behind it, validated when parsed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use sqlx::PgPool;

use crate::call::CallMethod;
use crate::platform::domain::PhoneValidation;
use crate::platform::outbox::{DeliveryCounters, RetryPolicy, WorkerSettings};
use crate::platform::rate_limit::RateLimit;
use crate::platform::secret::Secret;
use crate::platform::telemetry::LogFormat;
use crate::startup::{Limits, Settings};
use crate::surfaces::instaply_ivr::hook::HookRules;
use crate::surfaces::instaply_ivr::sms::Worker;
use crate::surfaces::instaply_ivr::sms::queue::SmsOutbox;
use crate::surfaces::instaply_ivr::sms::transport::{self, Transport, TwilioTransport, WebhookTransport};
use crate::surfaces::instaply_messaging::DeliverySettings;

#[derive(Debug, Parser)]
#[command(
    name = "ivr-gateway",
    version,
    about = "The Instaply IVR hook (/v1/ivr), on PostgreSQL"
)]
pub struct Cli {
    /// Log lines as text or JSON.
    #[arg(long, env = "IVR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct ReadyArgs {
    /// The gateway's address, as `serve` was given it (0.0.0.0 is asked on 127.0.0.1).
    #[arg(long, env = "IVR_BIND", default_value = "127.0.0.1:8080", value_parser = parse_bind)]
    pub bind: SocketAddr,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the hook (applies migrations first, then IVR_FIXTURES if set).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Load a fixtures file (organizations, keys, stores, opt-outs) and exit.
    Seed(SeedArgs),
    /// Deliver queued SMS and webhook events without serving HTTP (scale delivery on its own).
    Worker(WorkerArgs),
    /// Operate on the SMS outbox.
    #[command(subcommand)]
    Sms(SmsCommand),
    /// Call a hook as an IVR platform would and print what the caller hears.
    Call(CallArgs),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Exit 0 if the gateway at IVR_BIND answers /readyz (a container health check).
    Ready(ReadyArgs),
    /// Play a call against a TwiML URL as Twilio would, and print its transcript.
    Simulate(SimulateArgs),
    /// Play the customer of the messaging side, through a running gateway's admin API.
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Read, advance or speed up the emulator's clock (scheduled Infobip
    /// calls, validity, retry waits), through a running gateway's admin API.
    #[command(subcommand)]
    Clock(ClockCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum ClockCommand {
    /// Print the emulator's time, its speed, and how far ahead of real time it is.
    Show {
        #[command(flatten)]
        api: AdminApiArgs,
    },
    /// Move the emulator's time forward, e.g. `30m`, `2h`, `1d`.
    Advance {
        by: String,
        #[command(flatten)]
        api: AdminApiArgs,
    },
    /// Run the emulator's time this many times faster than real time (1 = real time).
    Speed {
        speed: f64,
        #[command(flatten)]
        api: AdminApiArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// The first TwiML document's URL.
    #[arg(long, required_unless_present = "smartflo_number")]
    pub url: Option<String>,
    /// Call this Smartflo number on the gateway at --gateway instead of --url.
    #[arg(long, conflicts_with = "url")]
    pub smartflo_number: Option<String>,
    /// The gateway whose Smartflo numbers --smartflo-number calls.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub gateway: String,
    /// The caller's number.
    #[arg(long)]
    pub from: String,
    /// The number called.
    #[arg(long)]
    pub to: String,
    /// Keys pressed at successive Gathers, comma-separated (`1,2#`; an empty entry presses nothing).
    #[arg(long, value_delimiter = ',')]
    pub press: Vec<String>,
    /// How a dialled number answers, `NUMBER=answers|busy|no-answer|machine|failed` (repeatable).
    #[arg(long, value_parser = parse_dial)]
    pub dial: Vec<(String, crate::surfaces::simulator::Answer)>,
    /// Hang up before the Nth step.
    #[arg(long)]
    pub hang_up_at: Option<usize>,
    /// GET or POST (Twilio's default).
    #[arg(long, default_value = "post", value_parser = ["get", "post"])]
    pub method: String,
    /// Sign every request with this Twilio auth token.
    #[arg(long, env = "IVR_SIMULATE_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<Secret>,
    /// Print the transcript as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_dial(raw: &str) -> Result<(String, crate::surfaces::simulator::Answer), String> {
    let (number, answer) = raw
        .split_once('=')
        .ok_or("expected NUMBER=OUTCOME, e.g. +14155550100=busy")?;
    let answer = crate::surfaces::simulator::Answer::parse(answer)
        .ok_or("the outcome is one of answers, busy, no-answer, machine, failed")?;
    Ok((number.to_owned(), answer))
}

/// A running gateway's admin API.
#[derive(Debug, Clone, Args)]
pub struct AdminApiArgs {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Its admin token, when it has one.
    #[arg(long, env = "IVR_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
}

#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// A customer's message to a business number (customer and thread created
    /// if new; fires the `messages` event).
    Send {
        /// The customer's number, E.164.
        #[arg(long)]
        from: String,
        /// The business number, E.164.
        #[arg(long)]
        to: String,
        #[arg(long)]
        text: String,
        /// The channel of a new thread: SMS, WHATSAPP, WEBCHAT, EMAIL, FACEBOOK, INSTAGRAM.
        #[arg(long, default_value = "SMS")]
        channel: String,
        #[command(flatten)]
        api: AdminApiArgs,
    },
    /// Move a thread to another business number of its organization (fires the `transfers` event).
    Transfer {
        /// The thread's id.
        #[arg(long)]
        thread: u64,
        /// The business number to move it to.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        api: AdminApiArgs,
    },
}

#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    /// The hook's URL (this gateway's or another's).
    #[arg(long, default_value = "http://127.0.0.1:8080/v1/ivr")]
    pub url: String,
    #[arg(long)]
    pub key: String,
    /// The caller's number.
    #[arg(long)]
    pub from: String,
    /// The business number called.
    #[arg(long)]
    pub to: String,
    #[arg(long, value_enum, default_value_t = CallMethod::Get)]
    pub method: CallMethod,
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for an organization and print it, once.
    Create {
        /// The organization's name.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SmsCommand {
    /// Re-queue a failed SMS for immediate delivery with a fresh attempt budget.
    Retry {
        /// The SMS id (also its idempotency key).
        id: uuid::Uuid,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Where the database is. With no URL, a private PostgreSQL cluster is run
/// from the server binaries installed on this machine.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL; absent: the embedded cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
    /// Data folder of the embedded cluster (default: /var/lib/ivr-gateway as
    /// root, else $XDG_DATA_HOME/ivr-gateway or ~/.local/share/ivr-gateway).
    #[arg(long, env = "IVR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database connections this process opens in all: the serving pool gets
    /// what the group-commit writers and the listener leave.
    #[arg(long, env = "IVR_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,
    /// How long a request may wait for the database before answering 503.
    #[arg(long, env = "IVR_DB_TIMEOUT", default_value = "3s", value_parser = parse_duration)]
    pub db_timeout: Duration,
    /// PostgreSQL cancels a statement running longer than this (keep it under
    /// IVR_DB_TIMEOUT, so the database gives up first and the connection stays usable).
    #[arg(long, env = "IVR_DB_STATEMENT_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub db_statement_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on, HOST:PORT.
    #[arg(long, env = "IVR_BIND", default_value = "127.0.0.1:8080", value_parser = parse_bind)]
    pub bind: SocketAddr,
    /// Fixtures file loaded at start-up (idempotent).
    #[arg(long, env = "IVR_FIXTURES")]
    pub fixtures: Option<PathBuf>,
    /// Longest a hook request may take, body included, before a 503.
    #[arg(long, env = "IVR_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Hook requests handled at once; beyond it they are shed with a 503 at
    /// once rather than queued.
    #[arg(long, env = "IVR_MAX_IN_FLIGHT", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,
    /// Open connections per HTTP worker thread; beyond it new ones wait to be accepted.
    #[arg(long, env = "IVR_MAX_CONNECTIONS", default_value_t = 25_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Bearer token for `/admin`. Required for any bind other than loopback.
    #[arg(long, env = "IVR_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// Runs the emulator's clock this many times faster than real time from
    /// start-up (scheduled Infobip calls, validity, retry waits); unset leaves it as it is.
    #[arg(long, env = "IVR_CLOCK_SPEED", value_parser = parse_clock_speed)]
    pub clock_speed: Option<f64>,
    #[command(flatten)]
    pub rules: RulesArgs,
    /// Hook requests per second allowed per API key, per replica (`0` = no limit).
    #[arg(long, env = "IVR_RATE_LIMIT", default_value_t = 200.0)]
    pub rate_limit: f64,
    /// Requests a key may make at once after a quiet spell.
    #[arg(long, env = "IVR_RATE_BURST", default_value_t = 400)]
    pub rate_burst: u32,
    /// Calls and delivered SMS older than this are deleted in the background
    /// (`0` keeps everything). Failed and queued SMS are kept.
    #[arg(long, env = "IVR_RETENTION", default_value = "30d", value_parser = parse_duration)]
    pub retention: Duration,
    /// Run the SMS delivery worker inside `serve` (`false`: deliver with
    /// separate `ivr-gateway worker` processes, or not at all).
    #[arg(long, env = "IVR_SMS_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub sms_worker: bool,
    #[command(flatten)]
    pub sms: SmsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub sms: SmsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportKind {
    /// Record as delivered, keep for inspection (magic numbers provoke failures).
    Capture,
    /// POST signed JSON to IVR_SMS_WEBHOOK_URL.
    Webhook,
    /// Twilio's Messages API.
    Twilio,
}

/// SMS delivery: transport, retries, and the worker's pace.
#[derive(Debug, Clone, Args)]
pub struct SmsArgs {
    #[arg(long, env = "IVR_SMS_TRANSPORT", value_enum, default_value_t = TransportKind::Capture)]
    pub sms_transport: TransportKind,
    /// `webhook`: where each SMS is POSTed.
    #[arg(long, env = "IVR_SMS_WEBHOOK_URL")]
    pub sms_webhook_url: Option<String>,
    /// `webhook`: HMAC-SHA256 signing secret (raw, or `whsec_<base64>`).
    #[arg(long, env = "IVR_SMS_WEBHOOK_SECRET", hide_env_values = true)]
    pub sms_webhook_secret: Option<Secret>,
    /// `twilio`: the account SID.
    #[arg(long, env = "IVR_TWILIO_ACCOUNT_SID")]
    pub twilio_account_sid: Option<String>,
    /// `twilio`: the auth token.
    #[arg(long, env = "IVR_TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<Secret>,
    /// `twilio`: API base URL (a sandbox or a local double in staging).
    #[arg(long, env = "IVR_TWILIO_BASE_URL", default_value = "https://api.twilio.com")]
    pub twilio_base_url: String,
    /// Time limit of one HTTP delivery.
    #[arg(long, env = "IVR_SMS_HTTP_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub sms_http_timeout: Duration,
    /// Attempts in all before an SMS is `failed`.
    #[arg(long, env = "IVR_SMS_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub sms_max_attempts: u32,
    /// Delay before the second attempt; doubles each time, with jitter.
    #[arg(long, env = "IVR_SMS_RETRY_BASE", default_value = "2s", value_parser = parse_duration)]
    pub sms_retry_base: Duration,
    /// Longest delay between two attempts (a server's Retry-After may ask more, up to 1h).
    #[arg(long, env = "IVR_SMS_RETRY_CAP", default_value = "10m", value_parser = parse_duration)]
    pub sms_retry_cap: Duration,
    /// How long a claimed SMS stays exclusive to its worker.
    #[arg(long, env = "IVR_SMS_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub sms_lease: Duration,
    /// SMS claimed per batch (fewer for HTTP transports when a batch could
    /// not all be delivered within the lease).
    #[arg(long, env = "IVR_SMS_BATCH", default_value_t = 128, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub sms_batch: i64,
    /// Deliveries in flight at once, per worker.
    #[arg(long, env = "IVR_SMS_CONCURRENCY", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub sms_concurrency: u32,
    /// How often an idle worker looks for due SMS when no notification comes.
    #[arg(long, env = "IVR_SMS_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub sms_poll_interval: Duration,
    /// How long deliveries in flight may finish after SIGTERM.
    #[arg(long, env = "IVR_SMS_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub sms_shutdown_grace: Duration,
    /// The messaging side's event deliveries, drained beside the SMS.
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// Webhook and legacy-hook deliveries of the messaging side.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Time limit of one delivery.
    #[arg(long, env = "IVR_WEBHOOK_HTTP_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub webhook_http_timeout: Duration,
    /// Attempts in all before a delivery is `failed`.
    #[arg(long, env = "IVR_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_max_attempts: u32,
    /// Delay before the second attempt; doubles each time, with jitter.
    #[arg(long, env = "IVR_WEBHOOK_RETRY_BASE", default_value = "2s", value_parser = parse_duration)]
    pub webhook_retry_base: Duration,
    /// Longest delay between two attempts.
    #[arg(long, env = "IVR_WEBHOOK_RETRY_CAP", default_value = "10m", value_parser = parse_duration)]
    pub webhook_retry_cap: Duration,
    /// How long a claimed delivery stays exclusive to its worker.
    #[arg(long, env = "IVR_WEBHOOK_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub webhook_lease: Duration,
    /// Deliveries claimed per batch.
    #[arg(long, env = "IVR_WEBHOOK_BATCH", default_value_t = 128, value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub webhook_batch: i64,
    /// Deliveries in flight at once, per worker.
    #[arg(long, env = "IVR_WEBHOOK_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub webhook_concurrency: u32,
    /// How often an idle worker looks for due deliveries when no notification comes.
    #[arg(long, env = "IVR_WEBHOOK_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub webhook_poll_interval: Duration,
}

impl WebhookArgs {
    /// The settings, refusing a lease that a slow batch could outlive.
    pub fn settings(&self, shutdown_grace: Duration) -> anyhow::Result<DeliverySettings> {
        anyhow::ensure!(
            self.webhook_lease > self.webhook_http_timeout,
            "IVR_WEBHOOK_LEASE ({:?}) must be longer than IVR_WEBHOOK_HTTP_TIMEOUT ({:?}), or a slow delivery would be sent twice",
            self.webhook_lease,
            self.webhook_http_timeout
        );
        // As for the SMS: the last of a batch must start within its lease.
        let waves = (self.webhook_lease.as_secs_f64() / self.webhook_http_timeout.as_secs_f64()).floor() as i64 - 1;
        let batch = self
            .webhook_batch
            .min((i64::from(self.webhook_concurrency) * waves).max(1));
        Ok(DeliverySettings {
            http_timeout: self.webhook_http_timeout,
            retry: RetryPolicy {
                base: self.webhook_retry_base,
                cap: self.webhook_retry_cap,
                max_attempts: self.webhook_max_attempts,
            },
            worker: WorkerSettings {
                batch_size: batch,
                concurrency: self.webhook_concurrency as usize,
                lease: self.webhook_lease,
                poll_interval: self.webhook_poll_interval,
                shutdown_grace,
            },
        })
    }
}

impl SmsArgs {
    /// The delivery settings hold together: a lease that outlives a delivery,
    /// and what the chosen transport needs.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.checked_transport()?;
        self.delivery_settings().map(drop)
    }

    /// The messaging side's event deliveries, run beside the SMS.
    pub fn delivery_settings(&self) -> anyhow::Result<DeliverySettings> {
        self.webhooks.settings(self.sms_shutdown_grace)
    }

    /// The chosen transport, once the lease is known to outlive a delivery.
    fn checked_transport(&self) -> anyhow::Result<Transport> {
        anyhow::ensure!(
            self.sms_lease > self.sms_http_timeout,
            "IVR_SMS_LEASE ({:?}) must be longer than IVR_SMS_HTTP_TIMEOUT ({:?}), or a slow delivery would be sent twice",
            self.sms_lease,
            self.sms_http_timeout
        );
        self.transport()
    }

    /// The worker these settings describe, refusing inconsistent ones.
    pub fn worker(&self, pool: PgPool, counters: Arc<DeliveryCounters>) -> anyhow::Result<Worker> {
        let transport = self.checked_transport()?;
        let policy = RetryPolicy {
            base: self.sms_retry_base,
            cap: self.sms_retry_cap,
            max_attempts: self.sms_max_attempts,
        };
        let settings = WorkerSettings {
            batch_size: self.batch_within_lease(),
            concurrency: self.sms_concurrency as usize,
            lease: self.sms_lease,
            poll_interval: self.sms_poll_interval,
            shutdown_grace: self.sms_shutdown_grace,
        };
        Ok(Worker::new(pool, SmsOutbox, transport, policy, settings, counters))
    }

    /// A claimed SMS waits for the deliveries ahead of it (those in flight,
    /// then its own batch's, `concurrency` at a time), each up to the HTTP
    /// timeout: past `concurrency × (lease / timeout − 1)` the last ones of a
    /// batch could outlive their lease and be sent twice. `capture` does not
    /// wait on anything.
    fn batch_within_lease(&self) -> i64 {
        if matches!(self.sms_transport, TransportKind::Capture) {
            return self.sms_batch;
        }
        let waves = (self.sms_lease.as_secs_f64() / self.sms_http_timeout.as_secs_f64()).floor() as i64 - 1;
        let limit = (i64::from(self.sms_concurrency) * waves).max(1);
        if self.sms_batch > limit {
            tracing::warn!(
                batch = self.sms_batch,
                limit,
                "IVR_SMS_BATCH lowered: a bigger batch could not all be delivered within IVR_SMS_LEASE"
            );
        }
        self.sms_batch.min(limit)
    }

    fn transport(&self) -> anyhow::Result<Transport> {
        let client = || transport::http_client(self.sms_http_timeout);
        Ok(match self.sms_transport {
            TransportKind::Capture => Transport::Capture,
            TransportKind::Webhook => {
                let (Some(url), Some(secret)) = (&self.sms_webhook_url, &self.sms_webhook_secret) else {
                    anyhow::bail!("IVR_SMS_TRANSPORT=webhook needs IVR_SMS_WEBHOOK_URL and IVR_SMS_WEBHOOK_SECRET");
                };
                let url: reqwest::Url = url.parse().context("IVR_SMS_WEBHOOK_URL is not a URL")?;
                Transport::Webhook(WebhookTransport::new(client(), url.to_string(), secret.expose())?)
            }
            TransportKind::Twilio => {
                let (Some(sid), Some(token)) = (&self.twilio_account_sid, &self.twilio_auth_token) else {
                    anyhow::bail!("IVR_SMS_TRANSPORT=twilio needs IVR_TWILIO_ACCOUNT_SID and IVR_TWILIO_AUTH_TOKEN");
                };
                Transport::Twilio(TwilioTransport::new(
                    client(),
                    &self.twilio_base_url,
                    sid.clone(),
                    token.expose().to_owned(),
                ))
            }
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// The fixtures file (TOML).
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub rules: RulesArgs,
}

#[derive(Debug, Clone, Copy, Args)]
pub struct RulesArgs {
    /// How strictly phone numbers are checked beyond the E.164 shape.
    #[arg(long, env = "IVR_PHONE_VALIDATION", value_enum, default_value_t = PhoneValidation::Possible)]
    pub phone_validation: PhoneValidation,
    /// Minimum time between two welcome SMS from one store to one caller
    /// (`24h`, `30m`, `90s`; `0` turns the cool-down off).
    #[arg(long, env = "IVR_WELCOME_COOLDOWN", default_value = "24h", value_parser = parse_duration)]
    pub welcome_cooldown: Duration,
}

impl DatabaseArgs {
    /// `IVR_DB_POOL_SIZE` covers `dedicated` connections and a serving pool of one at least.
    pub fn leaves_room_for(&self, dedicated: u32) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.db_pool_size > dedicated,
            "IVR_DB_POOL_SIZE ({}) must be more than the {dedicated} connections the writers and the listener hold",
            self.db_pool_size
        );
        Ok(())
    }

    /// The serving pool's size once `dedicated` connections are set aside.
    pub fn serving_pool_size(&self, dedicated: u32) -> u32 {
        self.db_pool_size.saturating_sub(dedicated).max(1)
    }

    /// A DATABASE_URL, when given, is a PostgreSQL URL.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.database_url {
            crate::platform::db::parse_url(url.expose())?;
        }
        Ok(())
    }
}

impl ServeArgs {
    /// `IVR_ADMIN_TOKEN`, where one is set: empty or only white space counts
    /// as unset (a blank line in an env file must not pass for a token).
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token
            .as_ref()
            .map(Secret::expose)
            .filter(|token| !token.trim().is_empty())
    }

    /// What the application is built from.
    pub fn settings(&self) -> Settings {
        Settings {
            rules: self.rules.into(),
            rate_limit: RateLimit {
                per_second: self.rate_limit,
                burst: self.rate_burst,
            },
            limits: Limits {
                request_timeout: self.request_timeout,
                max_in_flight: self.max_in_flight as usize,
                max_connections: self.max_connections as usize,
            },
            db_timeout: self.database.db_timeout,
            admin_token: self.admin_token().map(Secret::new),
            retention: self.retention,
            sms_worker: self.sms_worker.then(|| self.sms.clone()),
        }
    }

    /// Every check that needs no database, so that a mistake is reported
    /// before anything starts (the embedded cluster included).
    pub fn validate(&self) -> anyhow::Result<()> {
        self.check_admin_exposure()?;
        self.database.validate()?;
        self.database.leaves_room_for(self.settings().dedicated_connections())?;
        if self.sms_worker {
            self.sms.validate()?;
        }
        Ok(())
    }

    /// Refuses an admin API that anyone on the network could use: it reads
    /// the journal and can empty it.
    pub fn check_admin_exposure(&self) -> anyhow::Result<()> {
        if self.admin_token().is_none() && !self.bind.ip().is_loopback() {
            anyhow::bail!(
                "refusing to serve the admin API on {} without a token: set IVR_ADMIN_TOKEN \
                 (clients then send 'Authorization: Bearer <token>'), or bind to 127.0.0.1",
                self.bind
            );
        }
        Ok(())
    }
}

impl From<RulesArgs> for HookRules {
    fn from(args: RulesArgs) -> Self {
        Self {
            phone_validation: args.phone_validation,
            welcome_cooldown: args.welcome_cooldown,
        }
    }
}

/// Parses `0`, a bare number of seconds, or a number with one unit:
/// `ms`, `s`, `m`, `h`, `d` (`24h`, `1.5s`).
/// `HOST:PORT`, with a hint for the common slip of a bare port.
pub fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    text.trim().parse().map_err(|_| {
        let port = text.trim().trim_start_matches(':');
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            format!("'{text}' is a port, not HOST:PORT: use 127.0.0.1:{port} (this machine only) or 0.0.0.0:{port} (every interface)")
        } else {
            format!("'{text}' is not HOST:PORT (an IP address and a port, e.g. 127.0.0.1:8080)")
        }
    })
}

fn parse_clock_speed(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|speed| *speed >= 0.001 && crate::platform::clock::valid_speed(*speed))
        .ok_or_else(|| format!("'{text}' is not a clock speed from 0.001 to 100000"))
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 24h, 30m, 90s or 0"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => {
            return Err(format!("unknown unit '{other}' in '{text}': use ms, s, m, h or d"));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("'{text}' is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_addresses_are_host_and_port() {
        assert_eq!(parse_bind("0.0.0.0:8080"), Ok("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(
            parse_bind("8080"),
            Err("'8080' is a port, not HOST:PORT: use 127.0.0.1:8080 (this machine only) or 0.0.0.0:8080 (every interface)".to_owned())
        );
        assert!(parse_bind(":9000").unwrap_err().contains("127.0.0.1:9000"));
        assert!(parse_bind("localhost").unwrap_err().contains("is not HOST:PORT"));
    }

    #[test]
    fn durations_read_like_the_contract_examples() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("-1h").is_err());
    }

    fn sms_args(args: &[&str]) -> SmsArgs {
        let args = ["ivr-gateway", "worker"].iter().chain(args);
        match Cli::try_parse_from(args).unwrap().command {
            Command::Worker(worker) => worker.sms,
            _ => unreachable!("parsed the worker subcommand"),
        }
    }

    #[test]
    fn an_http_batch_is_cut_to_what_can_be_delivered_within_its_lease() {
        let webhook = ["--sms-transport", "webhook"];
        // 60s lease, 10s timeout: 5 waves; one goes to the deliveries already in flight.
        assert_eq!(sms_args(&webhook).batch_within_lease(), 128, "the defaults fit");
        let slow = [&webhook[..], &["--sms-concurrency", "2"]].concat();
        assert_eq!(sms_args(&slow).batch_within_lease(), 2 * 5);
        let tight = [&webhook[..], &["--sms-lease", "11s"]].concat();
        assert_eq!(sms_args(&tight).batch_within_lease(), 1, "never less than one");
        let capture = ["--sms-concurrency", "2"];
        assert_eq!(sms_args(&capture).batch_within_lease(), 128, "capture waits on nothing");
    }

    fn serve_args(args: &[&str]) -> ServeArgs {
        let args = ["ivr-gateway", "serve"].iter().chain(args);
        match Cli::try_parse_from(args).unwrap().command {
            Command::Serve(serve) => serve,
            _ => unreachable!("parsed the serve subcommand"),
        }
    }

    #[test]
    fn a_blank_admin_token_counts_as_unset_and_cannot_open_a_public_bind() {
        for blank in ["", " ", "\t \n"] {
            let args = serve_args(&["--bind", "0.0.0.0:0", "--admin-token", blank]);
            assert_eq!(args.admin_token(), None, "{blank:?}");
            let refusal = args.check_admin_exposure().unwrap_err().to_string();
            assert!(refusal.contains("without a token"), "{refusal}");
        }
        let args = serve_args(&["--bind", "0.0.0.0:0", "--admin-token", " s3cret "]);
        assert_eq!(args.admin_token(), Some(" s3cret "), "a real token is kept exactly");
        assert!(args.check_admin_exposure().is_ok());
    }
}
