use std::process::ExitCode;

use clap::Parser;
use ivr_gateway::commands;
use ivr_gateway::configuration::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    ivr_gateway::telemetry::init(cli.log_format);
    let outcome = match cli.command {
        Command::Serve(args) => commands::serve(args).await,
        Command::Migrate(args) => commands::migrate(args).await,
        Command::Seed(args) => commands::seed(args).await,
        Command::Worker(args) => commands::worker(args).await,
        Command::Sms(command) => commands::sms(command).await,
        Command::Keys(command) => commands::keys(command).await,
        Command::Call(args) => match commands::call(args).await {
            Ok(true) => return ExitCode::SUCCESS,
            Ok(false) => return ExitCode::FAILURE,
            Err(error) => Err(error),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ivr-gateway: {error:#}");
            ExitCode::FAILURE
        }
    }
}
