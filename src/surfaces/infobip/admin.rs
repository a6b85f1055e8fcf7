//! `/admin/infobip/launches`, `/admin/infobip/calls` and
//! `/admin/infobip/reports` (mounted by the admin API, behind its token):
//! what the emulated Infobip did, with `wait=` to hold the answer until
//! something matches.

use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::reports::{self, CallItem, LaunchItem, ReportItem};
use super::routes::InfobipRoutes;
use crate::configuration::parse_duration;
use crate::platform::domain::FieldErrors;
use crate::platform::http::error::JsonError;
use crate::platform::http::{DEFAULT_PAGE, page_limit};

const MAX_WAIT: Duration = Duration::from_secs(60);
const WAIT_POLL: Duration = Duration::from_millis(20);
const CALL_STATUSES: [&str; 5] = ["pending", "delivered", "undeliverable", "expired", "rejected"];
const REPORT_STATUSES: [&str; 4] = ["queued", "delivered", "failed", "unsent"];

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(list_launches).service(list_calls).service(list_reports);
}

#[derive(Default)]
struct Query {
    bulk_id: Option<String>,
    status: Option<String>,
    after: Option<i64>,
    limit: i64,
    wait: Duration,
    /// With `wait`: hold until at least this many items match.
    at_least: usize,
}

fn parse(query: &str, statuses: &[&str]) -> Result<Query, JsonError> {
    let mut parsed = Query {
        limit: DEFAULT_PAGE,
        at_least: 1,
        ..Query::default()
    };
    let mut errors = FieldErrors::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "bulk_id" if value.len() <= 100 && !value.contains('\0') => parsed.bulk_id = Some(value.into_owned()),
            "bulk_id" => errors.push("bulk_id", "At most 100 characters, no NUL"),
            "status" if statuses.contains(&value.as_ref()) => parsed.status = Some(value.into_owned()),
            "status" => errors.push("status", format!("Must be one of: {}", statuses.join(", "))),
            "after" => match value.parse::<i64>() {
                Ok(after) if after >= 0 => parsed.after = Some(after),
                _ => errors.push("after", "Must be a whole number, the last id of the previous page"),
            },
            "limit" => match page_limit(&value) {
                Some(limit) => parsed.limit = limit,
                None => errors.push("limit", "Must be a whole number from 1 to 500"),
            },
            "wait" => match parse_duration(&value) {
                Ok(wait) if wait <= MAX_WAIT => parsed.wait = wait,
                _ => errors.push("wait", "Must be a duration of at most 60s, e.g. 5s or 250ms"),
            },
            "at_least" => match value.parse::<usize>() {
                Ok(count) if (1..=500).contains(&count) => parsed.at_least = count,
                _ => errors.push("at_least", "Must be a whole number from 1 to 500"),
            },
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(JsonError::invalid_fields(errors))
    }
}

/// Lists at once or, given a wait, until `at_least` items match or the wait ends.
async fn wait_for<T, F, Fut>(state: &InfobipRoutes, query: &Query, mut list: F) -> Result<Vec<T>, JsonError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = sqlx::Result<Vec<T>>>,
{
    let deadline = Instant::now() + query.wait;
    loop {
        let items = tokio::time::timeout(state.db_timeout, list()).await??;
        let now = Instant::now();
        if items.len() >= query.at_least.min(query.limit as usize) || now >= deadline {
            return Ok(items);
        }
        tokio::time::sleep(WAIT_POLL.min(deadline - now)).await;
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Launches {
    items: Vec<LaunchItem>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Calls {
    items: Vec<CallItem>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Reports {
    items: Vec<ReportItem>,
}

/// Launches, newest first, with their calls counted by status.
#[utoipa::path(
    tag = "infobip",
    security(("admin_token" = [])),
    params(
        ("bulk_id" = Option<String>, Query, max_length = 100),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500),
        ("wait" = Option<String>, Query, description = "Hold the answer up to this long (at most 60 s) until a launch matches",
            pattern = "^(([0-5]?[0-9]|60)s|[0-9]{1,4}ms)?$", example = "5s"),
    ),
    responses(
        (status = 200, body = Launches),
        (status = 400, description = "A bad filter, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/infobip/launches")]
pub async fn list_launches(req: HttpRequest, state: web::Data<InfobipRoutes>) -> Result<HttpResponse, JsonError> {
    let query = parse(req.query_string(), &[])?;
    let items = wait_for(&state, &query, || {
        reports::launches(&state.pool, query.bulk_id.as_deref(), query.limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Launches { items }))
}

/// Launched calls in launch order, with their transcripts once played.
#[utoipa::path(
    tag = "infobip",
    security(("admin_token" = [])),
    params(
        ("bulk_id" = Option<String>, Query, max_length = 100),
        ("status" = Option<String>, Query, pattern = "^(pending|delivered|undeliverable|expired|rejected)$"),
        ("after" = Option<i64>, Query, minimum = 0, description = "The last id of the previous page"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500),
        ("wait" = Option<String>, Query, description = "Hold the answer up to this long (at most 60 s) until `at_least` calls match",
            pattern = "^(([0-5]?[0-9]|60)s|[0-9]{1,4}ms)?$", example = "5s"),
        ("at_least" = Option<i64>, Query, minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, body = Calls),
        (status = 400, description = "A bad filter, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/infobip/calls")]
pub async fn list_calls(req: HttpRequest, state: web::Data<InfobipRoutes>) -> Result<HttpResponse, JsonError> {
    let query = parse(req.query_string(), &CALL_STATUSES)?;
    let items = wait_for(&state, &query, || {
        reports::calls(
            &state.pool,
            query.bulk_id.as_deref(),
            query.status.as_deref(),
            query.after,
            query.limit,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(Calls { items }))
}

/// Delivery reports, oldest first, with their push's status and attempts.
#[utoipa::path(
    tag = "infobip",
    security(("admin_token" = [])),
    params(
        ("bulk_id" = Option<String>, Query, max_length = 100),
        ("status" = Option<String>, Query, pattern = "^(queued|delivered|failed|unsent)$"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500),
        ("wait" = Option<String>, Query, description = "Hold the answer up to this long (at most 60 s) until `at_least` reports match",
            pattern = "^(([0-5]?[0-9]|60)s|[0-9]{1,4}ms)?$", example = "5s"),
        ("at_least" = Option<i64>, Query, minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, body = Reports),
        (status = 400, description = "A bad filter, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/infobip/reports")]
pub async fn list_reports(req: HttpRequest, state: web::Data<InfobipRoutes>) -> Result<HttpResponse, JsonError> {
    let query = parse(req.query_string(), &REPORT_STATUSES)?;
    let items = wait_for(&state, &query, || {
        reports::reports(
            &state.pool,
            query.bulk_id.as_deref(),
            query.status.as_deref(),
            query.limit,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(Reports { items }))
}
