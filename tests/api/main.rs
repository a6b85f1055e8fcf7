//! Integration tests: the real application on port 0, a fresh database each.

mod admin;
mod administration;
mod body_decoding;
mod cli;
mod database_outage;
mod directory_cache;
mod embedded_postgres;
mod events;
mod fixtures;
mod group_commit;
mod health;
mod helpers;
mod ivr_outcomes;
mod limits;
mod metrics;
mod notifications;
mod openapi;
mod reliability;
mod retention;
mod sink;
mod sms_delivery;
mod sms_worker_processes;
mod tenancy;
mod twilio_signature;
mod validation;
mod welcome_sms;
