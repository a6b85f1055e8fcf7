//! Builds the application from its settings: the shared state, the HTTP
//! server, and the background work beside it (the SMS worker, the pruner).
//! `serve` and the tests build it the same way, here and only here.

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_http::Protocol;
use actix_http::{HttpService, KeepAlive};
use actix_service::{Service, ServiceFactoryExt, apply_fn_factory, map_config};
use actix_web::dev::{AppConfig, Server};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::PgPool;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::configuration::SmsArgs;
use crate::control::admin::AdminToken;
use crate::control::events::EventHub;
use crate::control::retention;
use crate::openapi::ApiDoc;
use crate::platform::directory::DirectoryCache;
use crate::platform::domain::PhoneValidation;
use crate::platform::http::AllowedMethods;
use crate::platform::http::Database;
use crate::platform::http::long_uri::LongUriWatch;
use crate::platform::notifications::Notifications;
use crate::platform::rate_limit::{RateLimit, RateLimiter};
use crate::platform::secret::Secret;
use crate::surfaces::infobip::routes::InfobipRoutes;
use crate::surfaces::infobip::{self, CallPlayer, OutboundCall, Pickup, PlayedCall};
use crate::surfaces::instaply_ivr::hook::{Hook, HookRules};
use crate::surfaces::instaply_ivr::routes::HookRoutes;
use crate::surfaces::instaply_messaging::DeliverySettings;
use crate::surfaces::instaply_messaging::{self, routes::MessagingRoutes};
use crate::surfaces::simulator::routes::SimulatorRoutes;
use crate::surfaces::simulator::{self, Ending, ScriptCall};
use crate::surfaces::smartflo::routes::SmartfloRoutes;

/// What the application is built from, whatever reads it (the command line
/// and environment for `serve`, code for the tests).
#[derive(Clone, Debug)]
pub struct Settings {
    pub rules: HookRules,
    pub rate_limit: RateLimit,
    pub limits: Limits,
    /// Bound on a request's database work; past it the answer is a 503.
    pub db_timeout: Duration,
    /// Guards `/admin`; `None` leaves it open (loopback binds only).
    pub admin_token: Option<Secret>,
    /// Age past which the journal and delivered SMS are pruned (`0` keeps all).
    pub retention: Duration,
    /// The SMS worker to run in this process, if any.
    pub sms_worker: Option<SmsArgs>,
}

impl Settings {
    /// Connections the application opens beside the serving pool; they come
    /// out of `IVR_DB_POOL_SIZE`.
    pub fn dedicated_connections(&self) -> u32 {
        dedicated_connections(true, self.sms_worker.is_some())
    }
}

/// Connections a process opens beside its serving pool: the writers of the
/// hook's journal and the Bot API's sends (when it serves), the workers'
/// writers (when it delivers), and the listener's.
pub fn dedicated_connections(serves: bool, worker: bool) -> u32 {
    let journal = if serves {
        crate::surfaces::instaply_ivr::journal::JOURNAL_SLOTS + crate::surfaces::instaply_messaging::routes::SEND_SLOTS
    } else {
        0
    };
    let worker = if worker {
        // The writers of the SMS worker, the event deliveries' and the Infobip reports'.
        3 * crate::platform::outbox::worker::FINISH_SLOTS
    } else {
        0
    };
    (journal + worker + crate::platform::notifications::CONNECTIONS) as u32
}

/// Everything a handler may need; one instance, shared by every worker.
pub struct AppState {
    pub pool: PgPool,
    /// Keys and store routes in memory; admin writes drop them.
    pub directory: Arc<DirectoryCache>,
    /// How strictly phone numbers are checked, for admin writes too.
    pub phone_validation: PhoneValidation,
    /// Bound on a request's database work; past it the answer is a 503.
    pub db_timeout: Duration,
    /// Guards `/admin`; empty means open (loopback binds only).
    pub admin_token: AdminToken,
    pub limits: Limits,
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

/// A bound, not yet running application. Bind to port 0 and read
/// [`port`](Self::port) back to run several side by side (tests do).
pub struct Application {
    port: u16,
    server: Server,
    /// Background work, told to stop once the server has drained.
    stop_background: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
}

impl Application {
    /// Wires every part on `pool` and binds the server to `listener`. Must be
    /// called inside the Tokio runtime (the background work starts at once).
    pub fn build(settings: Settings, pool: PgPool, listener: TcpListener) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let notifications = Notifications::start(pool.clone());
        let hook = Hook::start(
            pool.clone(),
            settings.rules,
            RateLimiter::new(settings.rate_limit),
            &notifications,
        );
        let (stop_background, background_shutdown) = watch::channel(false);
        let mut background = Vec::new();
        if let Some(sms) = &settings.sms_worker {
            let worker = sms.worker(pool.clone(), crate::surfaces::instaply_ivr::sms::queue::counters())?;
            background.push(tokio::spawn(worker.run(&notifications, background_shutdown.clone())));
            let deliveries = instaply_messaging::worker(
                pool.clone(),
                &sms.delivery_settings()?,
                instaply_messaging::metrics::counters(),
            );
            background.push(tokio::spawn(
                deliveries.run(&notifications, background_shutdown.clone()),
            ));
            background.extend(infobip_background(
                &pool,
                &sms.delivery_settings()?,
                &notifications,
                background_shutdown.clone(),
            ));
        }
        background.push(tokio::spawn(instaply_messaging::mirror::run(
            pool.clone(),
            &notifications,
            background_shutdown.clone(),
        )));
        background.push(tokio::spawn(retention::run(
            pool.clone(),
            settings.retention,
            settings.rules.welcome_cooldown,
            background_shutdown,
        )));
        let messaging_routes = MessagingRoutes::new(pool.clone(), settings.db_timeout);
        let state = AppState {
            directory: hook.directory.clone(),
            phone_validation: settings.rules.phone_validation,
            pool,
            db_timeout: settings.db_timeout,
            admin_token: AdminToken::new(settings.admin_token.as_ref().map(Secret::expose)),
            limits: settings.limits,
            events: OnceLock::new(),
            notifications,
        };
        let hook_routes = HookRoutes {
            hook,
            in_flight: Semaphore::new(settings.limits.max_in_flight),
            request_timeout: settings.limits.request_timeout,
            db_timeout: settings.db_timeout,
        };
        let server = http_server(state, hook_routes, messaging_routes, listener)?;
        Ok(Self {
            port,
            server,
            stop_background,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until stopped through [`handle`](Self::handle), lets in-flight
    /// requests finish, then stops the background work (the worker finishes
    /// what it has in flight).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let _ = self.stop_background.send(true);
        for task in self.background {
            let _ = task.await;
        }
        served
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

fn http_server(
    state: AppState,
    hook_routes: HookRoutes,
    messaging_routes: MessagingRoutes,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let max_connections = state.limits.max_connections;
    let database = web::Data::new(Database {
        pool: state.pool.clone(),
        timeout: state.db_timeout,
    });
    let state = web::Data::new(state);
    let hook_routes = web::Data::new(hook_routes);
    let messaging_routes = web::Data::new(messaging_routes);
    let simulator_routes = web::Data::new(SimulatorRoutes::new(state.pool.clone(), state.db_timeout));
    let smartflo_routes = web::Data::new(SmartfloRoutes::new(state.pool.clone(), state.db_timeout));
    let infobip_routes = web::Data::new(InfobipRoutes {
        pool: state.pool.clone(),
        db_timeout: state.db_timeout,
    });
    crate::platform::metrics::handle();
    crate::surfaces::instaply_ivr::metrics::register();
    instaply_messaging::metrics::register();
    crate::surfaces::infobip::metrics::register();
    let app = move || {
        let (app, openapi) = App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .app_data(state.clone())
            .app_data(hook_routes.clone())
            .app_data(messaging_routes.clone())
            .app_data(simulator_routes.clone())
            .app_data(smartflo_routes.clone())
            .app_data(infobip_routes.clone())
            .app_data(database.clone())
            .configure(crate::surfaces::instaply_ivr::routes::configure)
            .configure(instaply_messaging::routes::configure)
            .configure(crate::surfaces::smartflo::routes::configure)
            .configure(crate::surfaces::infobip::routes::configure)
            .configure(crate::control::admin::configure)
            .configure(crate::platform::http::health::configure)
            .configure(crate::control::metrics::configure)
            .configure(crate::control::dashboard::configure)
            .split_for_parts();
        let allowed = web::Data::new(AllowedMethods::from_openapi(&openapi));
        app.app_data(allowed)
            .wrap(from_fn(crate::platform::telemetry::access_log))
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi))
            .default_service(web::to(crate::platform::http::fallback))
    };
    // actix-web's HttpServer, assembled from its parts so that requests its
    // HTTP parser rejects (they never reach the access-log middleware) get an
    // access line too.
    Ok(actix_server::Server::build()
        .max_concurrent_connections(max_connections)
        .shutdown_timeout(10)
        // actix-server stops at once on SIGINT; `serve` handles signals
        // itself so that Ctrl-C drains requests like SIGTERM does.
        .disable_signals()
        .listen("ivr-gateway", listener, move || {
            let http = HttpService::build()
                .keep_alive(KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .finish(map_config(app(), |_| AppConfig::default()));
            // What `.tcp()` does, with each connection watched for request
            // lines too long for the parser (they get the JSON 414).
            apply_fn_factory(http, |io: TcpStream, http: &_| {
                let peer = io.peer_addr().ok();
                let watch = LongUriWatch::new(io);
                let replaced = watch.replaced();
                let served = Service::call(http, (watch, Protocol::Http1, peer));
                async move {
                    let served = served.await;
                    if replaced.load(Ordering::Relaxed) {
                        crate::platform::telemetry::log_unparsed(414, "request line too long");
                        return Ok(());
                    }
                    served
                }
            })
            .map_err(crate::platform::telemetry::log_rejected_connection)
        })?
        .run())
}

/// Infobip's background work: the dialer placing launched calls (played by
/// the call simulator) and the worker pushing their reports.
pub fn infobip_background(
    pool: &PgPool,
    settings: &DeliverySettings,
    notifications: &Notifications,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let dialer = infobip::Dialer::new(pool.clone(), simulated_calls(pool));
    let reports = infobip::report_worker(
        pool.clone(),
        settings.http_timeout,
        settings.retry,
        settings.worker,
        infobip::metrics::counters(),
    );
    vec![
        tokio::spawn(dialer.run(notifications, shutdown.clone())),
        tokio::spawn(reports.run(notifications, shutdown)),
    ]
}

/// Infobip's calls placed by the call simulator.
pub fn simulated_calls(pool: &PgPool) -> Arc<dyn CallPlayer> {
    Arc::new(SimulatedCalls {
        pool: pool.clone(),
        client: simulator::script::client(Duration::from_secs(5)),
    })
}

/// Each number answers as its persona says.
struct SimulatedCalls {
    pool: PgPool,
    client: reqwest::Client,
}

/// Scenario calls played at once per batch.
const SIMULATED_AT_ONCE: usize = 64;

impl CallPlayer for SimulatedCalls {
    fn play(&self, calls: Vec<OutboundCall>) -> BoxFuture<'static, Result<Vec<PlayedCall>, String>> {
        use futures_util::StreamExt;
        let (pool, client) = (self.pool.clone(), self.client.clone());
        async move {
            let numbers: Vec<String> = calls.iter().map(|call| call.to.clone()).collect();
            let personas = simulator::storage::personas_for(&pool, &numbers)
                .await
                .map_err(|error| format!("cannot read personas: {error}"))?;
            let played = futures_util::stream::iter(calls)
                .map(|call| {
                    let script_call = ScriptCall {
                        persona: personas.get(&call.to).cloned().unwrap_or_default(),
                        from: call.from,
                        to: call.to,
                        script: call.script,
                        variables: call.variables,
                    };
                    let client = client.clone();
                    async move { played(simulator::play_script(&client, &script_call).await) }
                })
                .buffered(SIMULATED_AT_ONCE)
                .collect()
                .await;
            Ok(played)
        }
        .boxed()
    }
}

fn played(outcome: simulator::ScriptOutcome) -> PlayedCall {
    PlayedCall {
        pickup: match outcome.transcript.ended {
            Ending::Busy => Pickup::Busy,
            Ending::NoAnswer => Pickup::NoAnswer,
            Ending::Failed => Pickup::Failed,
            _ => Pickup::Answered,
        },
        collected: outcome.collected,
        line_seconds: outcome.line_seconds,
        transcript: serde_json::to_value(&outcome.transcript).unwrap_or_default(),
    }
}
