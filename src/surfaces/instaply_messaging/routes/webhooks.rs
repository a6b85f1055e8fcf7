//! `/api/webhooks/`: the token's organization's webhooks.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde_json::Value;

use super::{ApiError, MessagingRoutes, authenticate, json_body};
use crate::platform::domain::FieldErrors;
use crate::surfaces::instaply_messaging::domain::{self, ExtraHeader, Fields};
use crate::surfaces::instaply_messaging::storage::webhooks::{self, Webhook, WebhookFields};

/// A webhook's fields as a request gives them.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
#[schema(rename_all = "camelCase")]
struct WebhookBody {
    /// An absolute http(s) URL; required on create.
    #[schema(max_length = 2048)]
    url: Option<String>,
    /// Default true.
    enabled: Option<bool>,
    /// A non-empty subset of `messages`, `transfers`; required on create.
    #[schema(min_items = 1)]
    subscribed_events: Option<Vec<String>>,
    /// Sent with every delivery.
    #[schema(max_items = 20)]
    extra_headers: Option<Vec<ExtraHeader>>,
}

/// Reads the fields a body gives; on create, `url` and `subscribedEvents` are required.
fn read_fields(body: &Value, creating: bool) -> Result<WebhookFields, ApiError> {
    let mut fields = Fields::of(body).map_err(ApiError::invalid)?;
    let mut webhook = WebhookFields::default();
    match fields.value("url") {
        None if creating => fields.errors.push("url", "Missing parameter"),
        None => {}
        Some(value) => match value.as_str().map(domain::parse_url) {
            Some(Ok(url)) => webhook.url = Some(url),
            Some(Err(e)) => fields.errors.push("url", e),
            None => fields.errors.push("url", "Expected a string"),
        },
    }
    webhook.enabled = fields.boolean("enabled");
    match fields.value("subscribedEvents") {
        None if creating => fields.errors.push("subscribedEvents", "Missing parameter"),
        None => {}
        Some(value) => match domain::parse_events(value) {
            Ok(events) => webhook.subscribed_events = Some(events),
            Err(e) => fields.errors.push("subscribedEvents", e),
        },
    }
    if let Some(value) = fields.value("extraHeaders") {
        match domain::parse_headers(value) {
            Ok(headers) => webhook.extra_headers = Some(headers),
            Err(e) => fields.errors.push("extraHeaders", e),
        }
    }
    fields.finish().map_err(ApiError::invalid)?;
    Ok(webhook)
}

fn webhook_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| no_webhook(raw))
}

fn no_webhook(id: impl std::fmt::Display) -> ApiError {
    let shown: String = id.to_string().chars().take(40).collect();
    ApiError::not_found("webHookId", format!("No webhook with id {shown}"))
}

/// Creates a webhook.
#[utoipa::path(
    tag = "webhooks",
    security(("bot_token" = [])),
    request_body = WebhookBody,
    responses(
        (status = 200, description = "Created", body = Webhook),
        (status = 400, description = "A bad field, named", body = FieldErrors, example = json!({"url": "Missing parameter"})),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/api/webhooks/")]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let fields = read_fields(&json_body(&req, payload).await?, true)?;
    let webhook = tokio::time::timeout(
        state.db_timeout,
        webhooks::create(&state.pool, user.organization_id, &fields),
    )
    .await??;
    Ok(HttpResponse::Ok().json(webhook))
}

/// The organization's webhooks.
#[utoipa::path(
    tag = "webhooks",
    security(("bot_token" = [])),
    responses(
        (status = 200, description = "Every webhook, oldest first", body = Vec<Webhook>),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/api/webhooks/")]
pub async fn list(req: HttpRequest, state: web::Data<MessagingRoutes>) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let items = tokio::time::timeout(state.db_timeout, webhooks::list(&state.pool, user.organization_id)).await??;
    Ok(HttpResponse::Ok().json(items))
}

/// One webhook.
#[utoipa::path(
    tag = "webhooks",
    security(("bot_token" = [])),
    params(("webHookId" = String, Path)),
    responses(
        (status = 200, description = "The webhook", body = Webhook),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 404, description = "No such webhook in this organization", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/api/webhooks/{webHookId}")]
pub async fn show(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let id = webhook_id(&path)?;
    let webhook = tokio::time::timeout(state.db_timeout, webhooks::get(&state.pool, user.organization_id, id))
        .await??
        .ok_or_else(|| no_webhook(id))?;
    Ok(HttpResponse::Ok().json(webhook))
}

/// Changes the fields given; the others stay.
#[utoipa::path(
    tag = "webhooks",
    security(("bot_token" = [])),
    params(("webHookId" = String, Path)),
    request_body = WebhookBody,
    responses(
        (status = 200, description = "The webhook as it is now", body = Webhook),
        (status = 400, description = "A bad field, named", body = FieldErrors),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 404, description = "No such webhook in this organization", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/api/webhooks/{webHookId}/update")]
pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let id = webhook_id(&path)?;
    let fields = read_fields(&json_body(&req, payload).await?, false)?;
    let webhook = tokio::time::timeout(
        state.db_timeout,
        webhooks::update(&state.pool, user.organization_id, id, &fields),
    )
    .await??
    .ok_or_else(|| no_webhook(id))?;
    Ok(HttpResponse::Ok().json(webhook))
}

/// Deletes a webhook; deliveries already queued for it are still sent.
#[utoipa::path(
    tag = "webhooks",
    security(("bot_token" = [])),
    params(("webHookId" = String, Path)),
    responses(
        (status = 200, description = "The deleted webhook", body = Webhook),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 404, description = "No such webhook in this organization", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/api/webhooks/{webHookId}/delete")]
pub async fn delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let id = webhook_id(&path)?;
    let webhook = tokio::time::timeout(
        state.db_timeout,
        webhooks::delete(&state.pool, user.organization_id, id),
    )
    .await??
    .ok_or_else(|| no_webhook(id))?;
    Ok(HttpResponse::Ok().json(webhook))
}
