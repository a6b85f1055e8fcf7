//! Command line and environment (CONTRACT section 8): every setting is a flag
//! with an environment variable behind it, validated when parsed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::domain::PhoneValidation;
use crate::hook::HookRules;

#[derive(Debug, Parser)]
#[command(
    name = "ivr-gateway",
    version,
    about = "The Instaply IVR hook (/v1/ivr), on PostgreSQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the hook (applies migrations first, then IVR_FIXTURES if set).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Load a fixtures file (organizations, keys, stores, opt-outs) and exit.
    Seed(SeedArgs),
}

/// Where the database is. With no URL, a private PostgreSQL cluster is run
/// from the server binaries installed on this machine.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL; absent: the embedded cluster.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Data folder of the embedded cluster (default: /var/lib/ivr-gateway as
    /// root, else $XDG_DATA_HOME/ivr-gateway or ~/.local/share/ivr-gateway).
    #[arg(long, env = "IVR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Largest number of database connections this process opens.
    #[arg(long, env = "IVR_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: u32,
    /// How long a request may wait for the database before answering 503.
    #[arg(long, env = "IVR_DB_TIMEOUT", default_value = "3s", value_parser = parse_duration)]
    pub db_timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "IVR_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Fixtures file loaded at start-up (idempotent).
    #[arg(long, env = "IVR_FIXTURES")]
    pub fixtures: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RulesArgs,
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
}
