//! `/admin`: the inspection API a test suite drives the double with
//! (docs/ivr-hook.md §7), behind a bearer token.

mod auth;
mod clock;
mod events;
mod fixtures;
mod inspection;
mod json;
mod organizations;
mod stores;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::web;
use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub use auth::AdminToken;

/// Why an admin request got no answer: a client error with its field
/// sentences, or the database being away (503, cause logged only).
use crate::platform::http::error::JsonError as AdminError;
use crate::startup::AppState;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(
        scope("/admin")
            .wrap(from_fn(invalidate_directory_after_writes))
            .wrap(from_fn(auth::require_token))
            .service(inspection::list_calls)
            .service(inspection::list_sms)
            .service(inspection::reset)
            .service(inspection::retry_sms)
            .service(fixtures::load)
            .service(events::stream_events)
            .service(organizations::list)
            .service(organizations::create)
            .service(organizations::show)
            .service(organizations::update)
            .service(organizations::remove)
            .service(organizations::list_keys)
            .service(organizations::create_key)
            .service(organizations::revoke_key)
            .service(organizations::list_opt_outs)
            .service(organizations::add_opt_out)
            .service(organizations::remove_opt_out)
            .service(stores::list)
            .service(stores::create)
            .service(stores::show)
            .service(stores::update)
            .service(stores::remove)
            .service(stores::add_phone)
            .service(stores::remove_phone)
            .configure(crate::surfaces::instaply_messaging::routes::admin::configure)
            .configure(crate::surfaces::simulator::routes::configure)
            .configure(crate::surfaces::smartflo::routes::configure_admin)
            .configure(crate::surfaces::infobip::admin::configure)
            .service(clock::show)
            .service(clock::advance)
            .service(clock::set_speed)
            // Inside the scope, so that its token check comes before any 405.
            .default_service(actix_web::web::to(crate::platform::http::fallback)),
    );
}

/// Admin writes change keys and stores the hook caches: drop the cache once
/// a write is answered (so committed), and this replica's next call sees it.
/// Other replicas hear of it through the database's notification.
async fn invalidate_directory_after_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?;
    if writes && let Some(state) = state {
        state.directory.invalidate();
    }
    Ok(response)
}
