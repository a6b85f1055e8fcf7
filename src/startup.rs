//! Builds the HTTP application around one shared state.

use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_http::{HttpService, KeepAlive};
use actix_service::{ServiceFactoryExt, map_config};
use actix_web::dev::{AppConfig, Server};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use sqlx::PgPool;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::events::EventHub;
use crate::notifications::Notifications;
use tokio::sync::Semaphore;

use crate::hook::Hook;
use crate::outbox::DeliveryCounters;
use crate::routes;
use crate::routes::AllowedMethods;
use crate::routes::admin::AdminToken;
use crate::routes::openapi::ApiDoc;

/// Everything a handler may need; one instance, shared by every worker.
pub struct AppState {
    pub pool: PgPool,
    /// The hook, with its rules, rate limiter, directory cache and journal writer.
    pub hook: Hook,
    /// Bound on a request's database work; past it the answer is a 503.
    pub db_timeout: Duration,
    /// The delivery worker's counters, for the metrics endpoint.
    pub sms_counters: Arc<DeliveryCounters>,
    /// Guards `/admin`; empty means open (loopback binds only).
    pub admin_token: AdminToken,
    pub limits: Limits,
    /// Permits for hook requests in flight ([`Limits::max_in_flight`]).
    pub in_flight: Semaphore,
    /// Live events, started by the first subscriber.
    pub events: OnceLock<EventHub>,
    /// The process's one LISTEN connection, shared by every part that follows a channel.
    pub notifications: Notifications,
}

/// Bounds that keep overload from turning into unbounded queues.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest a hook request may take, body included.
    pub request_timeout: Duration,
    /// Hook requests at once; the next is shed with a 503.
    pub max_in_flight: usize,
    /// Open connections per HTTP worker.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            max_in_flight: 1024,
            max_connections: 25_000,
        }
    }
}

/// A bound, not yet running server. Bind to port 0 and read [`port`](Self::port)
/// back to run several side by side (tests do).
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub fn build(state: AppState, listener: TcpListener) -> std::io::Result<Self> {
        let port = listener.local_addr()?.port();
        let max_connections = state.limits.max_connections;
        let state = web::Data::new(state);
        crate::metrics::handle();
        let app = move || {
            let (app, openapi) = App::new()
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .app_data(state.clone())
                .configure(routes::ivr::configure)
                .configure(routes::admin::configure)
                .configure(routes::health::configure)
                .configure(routes::metrics::configure)
                .split_for_parts();
            let allowed = web::Data::new(AllowedMethods::from_openapi(&openapi));
            app.app_data(allowed)
                .wrap(from_fn(crate::telemetry::access_log))
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi))
                .default_service(web::to(routes::fallback))
        };
        // actix-web's HttpServer, assembled from its parts so that requests
        // its HTTP parser rejects (they never reach the access-log
        // middleware) get an access line too.
        let server = actix_server::Server::build()
            .max_concurrent_connections(max_connections)
            .shutdown_timeout(10)
            .listen("ivr-gateway", listener, move || {
                HttpService::build()
                    .keep_alive(KeepAlive::default())
                    .client_request_timeout(Duration::from_secs(5))
                    .client_disconnect_timeout(Duration::from_secs(1))
                    .finish(map_config(app(), |_| AppConfig::default()))
                    .tcp()
                    .map_err(crate::telemetry::log_rejected_connection)
            })?
            .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until SIGINT or SIGTERM, then lets in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}
