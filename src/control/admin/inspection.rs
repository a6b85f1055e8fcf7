//! `GET /admin/calls`, `GET /admin/sms` and `POST /admin/reset`.

use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};

use super::AdminError;
use crate::configuration::parse_duration;
use crate::control::inspection::{self, CallItem, Cursor, Filter, Page, SmsItem};
use crate::platform::domain::FieldErrors;
use crate::platform::http::{DEFAULT_PAGE, MAX_PAGE, page_limit};
use crate::startup::AppState;
use crate::surfaces::instaply_ivr::journal::Outcome;
use crate::surfaces::instaply_ivr::sms::queue::{self, RetryRefused, SmsStatus};

const MAX_WAIT: Duration = Duration::from_secs(60);
/// How often a waiting request looks again: well inside the 100 ms a test
/// may allow between the SMS being queued and the answer.
const WAIT_POLL: Duration = Duration::from_millis(20);

#[derive(Clone, Copy)]
enum Listing {
    Calls,
    Sms,
}

impl Listing {
    /// The name and allowed values of the state filter.
    fn state(self) -> (&'static str, &'static [&'static str]) {
        match self {
            Self::Calls => ("outcome", &Outcome::NAMES),
            Self::Sms => ("status", &SmsStatus::NAMES),
        }
    }
}

struct ListQuery {
    filter: Filter,
    after: Option<Cursor>,
    wait: Duration,
}

/// Journaled calls, newest first.
#[utoipa::path(
    tag = "inspection",
    security(("admin_token" = [])),
    params(
        ("from" = Option<String>, Query, description = "Exact caller number (calls) or sender (SMS)"),
        ("to" = Option<String>, Query, description = "Exact business number (calls) or recipient (SMS)"),
        ("outcome" = Option<String>, Query, description = "Only calls with this outcome",
            pattern = "^(dial|no_forwarding|not_linked|invalid_key|invalid_request|rate_limited|invalid_signature)?$"),
        ("since" = Option<chrono::DateTime<Utc>>, Query, description = "Only items created at or after this RFC 3339 time"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Items per page (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page", pattern = "^([1-9][0-9]{0,17})?$"),
        ("wait" = Option<String>, Query, description = "Hold the answer up to this long (at most 60 s) until an item matches",
            pattern = "^(([0-5]?[0-9]|60)s|[0-9]{1,4}ms)?$", example = "5s"),
    ),
    responses(
        (status = 200, body = Page<CallItem>),
        (status = 400, description = "A bad filter, named", body = FieldErrors, example = json!({"limit": "Must be a whole number from 1 to 500"})),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/calls")]
pub async fn list_calls(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let query = parse(req.query_string(), Listing::Calls)?;
    let page = wait_for_items(&state, query.wait, || {
        inspection::calls(&state.pool, &query.filter, query.after.as_ref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Queued and delivered SMS, newest first.
#[utoipa::path(
    tag = "inspection",
    security(("admin_token" = [])),
    params(
        ("from" = Option<String>, Query, description = "Exact caller number (calls) or sender (SMS)"),
        ("to" = Option<String>, Query, description = "Exact business number (calls) or recipient (SMS)"),
        ("status" = Option<String>, Query, description = "Only SMS in this status", pattern = "^(queued|delivered|failed)?$"),
        ("since" = Option<chrono::DateTime<Utc>>, Query, description = "Only items created at or after this RFC 3339 time"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Items per page (default 50)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page",
            pattern = "^([0-9]{1,16}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$"),
        ("wait" = Option<String>, Query, description = "Hold the answer up to this long (at most 60 s) until an item matches",
            pattern = "^(([0-5]?[0-9]|60)s|[0-9]{1,4}ms)?$", example = "5s"),
    ),
    responses(
        (status = 200, body = Page<SmsItem>),
        (status = 400, description = "A bad filter, named", body = FieldErrors, example = json!({"status": "Must be one of: queued, delivered, failed"})),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/sms")]
pub async fn list_sms(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let query = parse(req.query_string(), Listing::Sms)?;
    let page = wait_for_items(&state, query.wait, || {
        inspection::sms(&state.pool, &query.filter, query.after.as_ref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Re-queues a failed SMS for immediate delivery with a fresh attempt budget.
#[utoipa::path(
    tag = "inspection",
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "The SMS id (a UUID)")),
    responses(
        (status = 200, body = SmsItem),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 404, description = "No such SMS", body = FieldErrors),
        (status = 409, description = "The SMS is not failed", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/sms/{id}/retry")]
pub async fn retry_sms(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let shown: String = path.chars().take(40).collect();
    let missing = || {
        super::json::rejected(
            actix_web::http::StatusCode::NOT_FOUND,
            "sms",
            format!("No SMS with id {shown}"),
        )
    };
    let id = uuid::Uuid::parse_str(&path).map_err(|_| missing())?;
    let refused = tokio::time::timeout(state.db_timeout, queue::requeue_failed(&state.pool, id))
        .await
        .map_err(|_| AdminError::Unavailable("the database did not answer within IVR_DB_TIMEOUT".into()))??;
    match refused {
        Ok(()) => {}
        Err(RetryRefused::Unknown(_)) => return Err(missing()),
        Err(refusal @ RetryRefused::NotFailed(..)) => {
            return Err(super::json::rejected(
                actix_web::http::StatusCode::CONFLICT,
                "sms",
                refusal.to_string(),
            ));
        }
    }
    let sms = tokio::time::timeout(state.db_timeout, inspection::one_sms(&state.pool, id))
        .await
        .map_err(|_| AdminError::Unavailable("the database did not answer within IVR_DB_TIMEOUT".into()))??
        .ok_or_else(missing)?;
    Ok(HttpResponse::Ok().json(sms))
}

/// Empty the journal and the outbox (cool-downs included); organizations, keys and stores stay.
#[utoipa::path(
    tag = "inspection",
    security(("admin_token" = [])),
    responses(
        (status = 200, body = inline(ResetDone), example = json!({"status": "reset"})),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/reset")]
pub async fn reset(state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    tokio::time::timeout(state.db_timeout, inspection::reset(&state.pool))
        .await
        .map_err(|_| AdminError::Unavailable("reset timed out".into()))??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "reset" })))
}

/// `{"status": "reset"}`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct ResetDone {
    status: String,
}

/// Lists at once, or, given a wait, until something matches or the wait ends.
async fn wait_for_items<T, F, Fut>(state: &AppState, wait: Duration, mut list: F) -> Result<Page<T>, AdminError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<Page<T>>>,
{
    let deadline = Instant::now() + wait;
    loop {
        let page = tokio::time::timeout(state.db_timeout, list())
            .await
            .map_err(|_| AdminError::Unavailable("listing timed out".into()))??;
        let now = Instant::now();
        if !page.items.is_empty() || now >= deadline {
            return Ok(page);
        }
        tokio::time::sleep(WAIT_POLL.min(deadline - now)).await;
    }
}

fn parse(query: &str, listing: Listing) -> Result<ListQuery, AdminError> {
    let (state_name, state_values) = listing.state();
    let mut errors = FieldErrors::default();
    let mut filter = Filter {
        limit: DEFAULT_PAGE,
        ..Filter::default()
    };
    let (mut after, mut wait) = (None, Duration::ZERO);
    // An empty value means no filter, as an HTML form sends an untouched field;
    // but a time and a number have no empty form (their schema says so).
    let typed = |name: &str| matches!(name, "since" | "limit");
    for (name, value) in
        form_urlencoded::parse(query.as_bytes()).filter(|(name, value)| !value.is_empty() || typed(name))
    {
        match name.as_ref() {
            // PostgreSQL refuses NUL in text: a 400 here, not a 503 there.
            "from" | "to" if value.contains('\0') => errors.push(
                if name == "from" { "from" } else { "to" },
                "Must not contain the NUL character",
            ),
            "from" => filter.from = Some(value.into_owned()),
            "to" => filter.to = Some(value.into_owned()),
            name if name == state_name => match state_values.contains(&value.as_ref()) {
                true => filter.state = Some(value.into_owned()),
                false => errors.push(state_name, format!("Must be one of: {}", state_values.join(", "))),
            },
            "since" => match DateTime::parse_from_rfc3339(&value) {
                Ok(since) => filter.since = Some(since.with_timezone(&Utc)),
                Err(_) => errors.push("since", "Must be an RFC 3339 time, e.g. 2026-11-21T09:30:00Z"),
            },
            "limit" => match page_limit(&value) {
                Some(limit) => filter.limit = limit,
                None => errors.push("limit", format!("Must be a whole number from 1 to {MAX_PAGE}")),
            },
            "cursor" => {
                let decoded = match listing {
                    Listing::Calls => Cursor::decode_call(&value),
                    Listing::Sms => Cursor::decode_sms(&value),
                };
                match decoded {
                    Some(cursor) => after = Some(cursor),
                    None => errors.push("cursor", "Not a cursor this listing returned"),
                }
            }
            "wait" => match parse_duration(&value) {
                Ok(duration) if duration <= MAX_WAIT => wait = duration,
                _ => errors.push("wait", "Must be a duration of at most 60s, e.g. 5s or 500ms"),
            },
            other => errors.push(
                "query",
                format!("Unknown parameter '{other}': use from, to, {state_name}, since, limit, cursor or wait"),
            ),
        }
    }
    if errors.is_empty() {
        Ok(ListQuery { filter, after, wait })
    } else {
        Err(AdminError::invalid_fields(errors))
    }
}
