//! Under `/admin` (mounted by the admin API, behind its token): playing the
//! customer, and looking at threads and deliveries.

use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use super::{ApiError, MessagingRoutes, json_body};
use crate::platform::domain::{FieldErrors, PhoneNumber, PhoneValidation};
use crate::surfaces::instaply_messaging::domain::{Channel, DeliveryStatus, EventKind, Fields, MAX_TEXT_CHARS};
use crate::surfaces::instaply_messaging::storage::deliveries;
use crate::surfaces::instaply_messaging::storage::inspection::{
    self, DeliveryFilter, DeliveryItem, MessageItem, ThreadFilter, ThreadItem,
};
use crate::surfaces::instaply_messaging::storage::messages::{self, Business, Sender, TransferRefused};

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(customer_message)
        .service(transfer)
        .service(list_threads)
        .service(show_thread)
        .service(list_deliveries)
        .service(redeliver);
}

fn phone(fields: &mut Fields<'_>, name: &'static str) -> Option<PhoneNumber> {
    let Some(value) = fields.value(name) else {
        fields.errors.push(name, "Missing parameter");
        return None;
    };
    let Some(raw) = value.as_str() else {
        fields.errors.push(name, "Expected a string");
        return None;
    };
    PhoneNumber::parse(raw, PhoneValidation::Possible)
        .map_err(|e| fields.errors.push(name, e.to_string()))
        .ok()
}

/// The body of a customer's message.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct CustomerMessage {
    /// The customer's number, E.164.
    #[schema(pattern = "^\\+[1-9][0-9]{1,14}$", example = "+14151234560")]
    from: String,
    /// A business number, E.164.
    #[schema(pattern = "^\\+[1-9][0-9]{1,14}$", example = "+14151234567")]
    to: String,
    #[schema(min_length = 1, max_length = 4096)]
    text: String,
    /// The channel of a new thread (default `SMS`); an existing thread keeps its own.
    #[schema(pattern = "^(SMS|WHATSAPP|WEBCHAT|EMAIL|FACEBOOK|INSTAGRAM)$")]
    channel: Option<String>,
}

/// Plays the customer: a message from `from` to the business number `to`
/// (customer and thread created if new; opens the WhatsApp window; fires
/// the `messages` event).
#[utoipa::path(
    tag = "messaging admin",
    security(("admin_token" = [])),
    request_body = CustomerMessage,
    responses(
        (status = 200, description = "Received", example = json!({"messageId": 7, "customerThreadId": "3", "customerId": "cust_2"})),
        (status = 400, description = "A bad field, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 404, description = "No store has that business number", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/customer-messages")]
pub async fn customer_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, payload).await?;
    let mut fields = Fields::of(&body).map_err(ApiError::invalid)?;
    let from = phone(&mut fields, "from");
    let to = phone(&mut fields, "to");
    let text = fields.text("text", MAX_TEXT_CHARS);
    if text.is_none() && fields.errors.get("text").is_none() {
        fields.errors.push("text", "Missing parameter");
    }
    let channel = match fields.value("channel") {
        None => Some(Channel::Sms),
        Some(value) => {
            let channel = value.as_str().and_then(Channel::parse);
            if channel.is_none() {
                fields
                    .errors
                    .push("channel", format!("Must be one of: {}", Channel::NAMES.join(", ")));
            }
            channel
        }
    };
    fields.finish().map_err(ApiError::invalid)?;
    let (from, to, text, channel) = (
        from.expect("checked"),
        to.expect("checked"),
        text.expect("checked"),
        channel.expect("checked"),
    );
    let facts = tokio::time::timeout(state.db_timeout, async {
        let mut tx = state.pool.begin().await?;
        let thread = messages::customer_thread(&mut tx, Business::Number(to.as_str()), from.as_str(), channel)
            .await?
            .ok_or_else(|| ApiError::not_found("to", format!("No store has the business number {}", to.as_str())))?;
        let facts = messages::insert(&mut tx, thread.thread_id, Sender::Customer, &text, None, false).await?;
        messages::queue_message_events(&mut tx, &[&facts]).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(facts)
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({
        "messageId": facts.message_id,
        "customerThreadId": facts.thread_id.to_string(),
        "customerId": facts.customer_id,
    })))
}

/// The body of a transfer.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct Transfer {
    /// A business number of the thread's organization.
    #[schema(pattern = "^\\+[1-9][0-9]{1,14}$", example = "+15105550123")]
    to: String,
}

fn thread_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::no_thread(raw.chars().take(40).collect::<String>()))
}

/// Reassigns a thread to another business of its organization (fires the `transfers` event).
#[utoipa::path(
    tag = "messaging admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "The thread's id")),
    request_body = Transfer,
    responses(
        (status = 200, description = "Moved", example = json!({"customerThreadId": "3", "previousBusinessId": 1, "businessId": 2})),
        (status = 400, description = "A bad field, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 404, description = "No such thread, or no such business in its organization", body = FieldErrors),
        (status = 409, description = "Already there, or the customer has a thread with that business", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/threads/{id}/transfer")]
pub async fn transfer(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let id = thread_id(&path)?;
    let body = json_body(&req, payload).await?;
    let mut fields = Fields::of(&body).map_err(ApiError::invalid)?;
    let to = phone(&mut fields, "to");
    fields.finish().map_err(ApiError::invalid)?;
    let to = to.expect("checked");
    let facts = tokio::time::timeout(state.db_timeout, async {
        let mut tx = state.pool.begin().await?;
        let facts = match messages::transfer(&mut tx, id, to.as_str()).await? {
            Ok(facts) => facts,
            Err(refused) => return Err(transfer_refused(refused, id, to.as_str())),
        };
        messages::queue_transfer_events(&mut tx, &facts).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(facts)
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({
        "customerThreadId": facts.thread_id.to_string(),
        "previousBusinessId": facts.previous_business_id,
        "businessId": facts.business_id,
    })))
}

fn transfer_refused(refused: TransferRefused, id: i64, to: &str) -> ApiError {
    let conflict = |message: String| ApiError::conflict("to", message);
    match refused {
        TransferRefused::UnknownThread => ApiError::no_thread(id),
        TransferRefused::UnknownBusiness => ApiError::not_found(
            "to",
            format!("No store of the thread's organization has the number {to}"),
        ),
        TransferRefused::SameBusiness => conflict(format!("Thread {id} is already with the business behind {to}")),
        TransferRefused::AlreadyThere => conflict(format!(
            "The customer already has a thread with the business behind {to}"
        )),
    }
}

/// Reads `name=value` query pairs, refusing unknown names.
fn query_pairs(req: &HttpRequest, known: &[&str]) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs = Vec::new();
    let mut errors = FieldErrors::default();
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if known.contains(&name.as_ref()) {
            pairs.push((name.into_owned(), value.into_owned()));
        } else {
            errors.push(
                "query",
                format!(
                    "Unknown parameter '{}': use {}",
                    name.chars().take(40).collect::<String>(),
                    known.join(", ")
                ),
            );
            break;
        }
    }
    if errors.is_empty() {
        Ok(pairs)
    } else {
        Err(ApiError::invalid(errors))
    }
}

fn limit(raw: &str) -> Result<i64, ApiError> {
    crate::platform::http::page_limit(raw)
        .ok_or_else(|| ApiError::invalid(FieldErrors::single("limit", "Must be a whole number from 1 to 500")))
}

fn positive(raw: &str, field: &'static str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::invalid(FieldErrors::single(field, "Must be a positive whole number")))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    items: Vec<T>,
}

/// Customer threads, newest first.
#[utoipa::path(
    tag = "messaging admin",
    security(("admin_token" = [])),
    params(
        ("customer" = Option<String>, Query, description = "The customer's number", pattern = "^\\+[1-9][0-9]{1,14}$"),
        ("business" = Option<i64>, Query, minimum = 1, description = "The business (store) id"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Items (default 50)"),
    ),
    responses(
        (status = 200, body = Items<ThreadItem>),
        (status = 400, description = "A bad filter, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/threads")]
pub async fn list_threads(req: HttpRequest, state: web::Data<MessagingRoutes>) -> Result<HttpResponse, ApiError> {
    let mut filter = ThreadFilter {
        limit: 50,
        ..Default::default()
    };
    for (name, value) in query_pairs(&req, &["customer", "business", "limit"])? {
        match name.as_str() {
            "customer" => {
                let phone = PhoneNumber::parse(&value, PhoneValidation::Format)
                    .map_err(|e| ApiError::invalid(FieldErrors::single("customer", e.to_string())))?;
                filter.customer_phone = Some(phone.as_str().to_owned());
            }
            "business" => filter.business_id = Some(positive(&value, "business")?),
            _ => filter.limit = limit(&value)?,
        }
    }
    let items = tokio::time::timeout(state.db_timeout, inspection::threads(&state.pool, &filter)).await??;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// A thread with its messages.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ThreadWithMessages {
    #[serde(flatten)]
    thread: ThreadItem,
    messages: Vec<MessageItem>,
}

/// One thread and every message in it, oldest first.
#[utoipa::path(
    tag = "messaging admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "The thread's id")),
    responses(
        (status = 200, body = ThreadWithMessages),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 404, description = "No such thread", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/threads/{id}")]
pub async fn show_thread(path: web::Path<String>, state: web::Data<MessagingRoutes>) -> Result<HttpResponse, ApiError> {
    let id = thread_id(&path)?;
    let (thread, messages) = tokio::time::timeout(state.db_timeout, async {
        let thread = inspection::thread(&state.pool, id).await?;
        let messages = inspection::messages(&state.pool, id).await?;
        Ok::<_, sqlx::Error>((thread, messages))
    })
    .await??;
    let thread = thread.ok_or_else(|| ApiError::no_thread(id))?;
    Ok(HttpResponse::Ok().json(ThreadWithMessages { thread, messages }))
}

/// How often a waiting listing looks again.
const WAIT_POLL: Duration = Duration::from_millis(50);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Webhook and legacy-hook deliveries, newest first, each with its attempts.
#[utoipa::path(
    tag = "messaging admin",
    security(("admin_token" = [])),
    params(
        ("status" = Option<String>, Query, pattern = "^(queued|delivered|failed)$"),
        ("event" = Option<String>, Query, pattern = "^(messages|transfers)$"),
        ("thread" = Option<i64>, Query, minimum = 1),
        ("message" = Option<i64>, Query, minimum = 1),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Items (default 50)"),
        ("wait" = Option<String>, Query, description = "Hold the answer up to this long (at most 60 s) until an item matches",
            pattern = "^(([0-5]?[0-9]|60)s|[0-9]{1,4}ms)$", example = "5s"),
    ),
    responses(
        (status = 200, body = Items<DeliveryItem>),
        (status = 400, description = "A bad filter, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/deliveries")]
pub async fn list_deliveries(req: HttpRequest, state: web::Data<MessagingRoutes>) -> Result<HttpResponse, ApiError> {
    let mut filter = DeliveryFilter {
        limit: 50,
        ..Default::default()
    };
    let mut wait = Duration::ZERO;
    for (name, value) in query_pairs(&req, &["status", "event", "thread", "message", "limit", "wait"])? {
        match name.as_str() {
            "status" => {
                DeliveryStatus::parse(&value).ok_or_else(|| {
                    ApiError::invalid(FieldErrors::single(
                        "status",
                        format!("Must be one of: {}", DeliveryStatus::NAMES.join(", ")),
                    ))
                })?;
                filter.status = Some(value);
            }
            "event" => {
                EventKind::parse(&value).ok_or_else(|| {
                    ApiError::invalid(FieldErrors::single(
                        "event",
                        format!("Must be one of: {}", EventKind::NAMES.join(", ")),
                    ))
                })?;
                filter.event_type = Some(value);
            }
            "thread" => filter.thread_id = Some(positive(&value, "thread")?),
            "message" => filter.message_id = Some(positive(&value, "message")?),
            "wait" => {
                wait = crate::configuration::parse_duration(&value)
                    .ok()
                    .filter(|wait| *wait <= MAX_WAIT)
                    .ok_or_else(|| {
                        ApiError::invalid(FieldErrors::single(
                            "wait",
                            "Must be a duration of at most 60s, e.g. 5s or 500ms",
                        ))
                    })?
            }
            _ => filter.limit = limit(&value)?,
        }
    }
    let deadline = Instant::now() + wait;
    loop {
        let items = tokio::time::timeout(state.db_timeout, inspection::deliveries(&state.pool, &filter)).await??;
        let now = Instant::now();
        if !items.is_empty() || now >= deadline {
            return Ok(HttpResponse::Ok().json(Items { items }));
        }
        tokio::time::sleep(WAIT_POLL.min(deadline - now)).await;
    }
}

/// Queues a delivery again at once (same id), whatever its status.
#[utoipa::path(
    tag = "messaging admin",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "The delivery's id (a UUID)")),
    responses(
        (status = 200, body = DeliveryItem),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 404, description = "No such delivery", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/deliveries/{id}/redeliver")]
pub async fn redeliver(path: web::Path<String>, state: web::Data<MessagingRoutes>) -> Result<HttpResponse, ApiError> {
    let missing = || {
        ApiError::not_found(
            "delivery",
            format!("No delivery with id {}", path.chars().take(40).collect::<String>()),
        )
    };
    let id = Uuid::parse_str(&path).map_err(|_| missing())?;
    let item = tokio::time::timeout(state.db_timeout, async {
        if !deliveries::redeliver(&state.pool, id).await? {
            return Ok(None);
        }
        inspection::delivery(&state.pool, id).await
    })
    .await??
    .ok_or_else(missing)?;
    Ok(HttpResponse::Ok().json(item))
}
