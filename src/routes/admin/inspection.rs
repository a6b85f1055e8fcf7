//! `GET /admin/calls`, `GET /admin/sms` and `POST /admin/reset`.

use std::future::Future;
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

use super::AdminError;
use crate::configuration::parse_duration;
use crate::db::inspection::{self, Cursor, Filter, Page};
use crate::domain::FieldErrors;
use crate::startup::AppState;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 500;
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
            Self::Calls => (
                "outcome",
                &["dial", "no_forwarding", "not_linked", "invalid_key", "invalid_request"],
            ),
            Self::Sms => ("status", &["queued", "delivered", "failed"]),
        }
    }
}

struct ListQuery {
    filter: Filter,
    after: Option<Cursor>,
    wait: Duration,
}

pub async fn list_calls(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let query = parse(req.query_string(), Listing::Calls)?;
    let page = wait_for_items(&state, query.wait, || {
        inspection::calls(&state.pool, &query.filter, query.after.as_ref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn list_sms(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let query = parse(req.query_string(), Listing::Sms)?;
    let page = wait_for_items(&state, query.wait, || {
        inspection::sms(&state.pool, &query.filter, query.after.as_ref())
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

pub async fn reset(state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    tokio::time::timeout(state.db_timeout, inspection::reset(&state.pool))
        .await
        .map_err(|_| AdminError::Unavailable("reset timed out".into()))??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "reset" })))
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
        limit: DEFAULT_LIMIT,
        ..Filter::default()
    };
    let (mut after, mut wait) = (None, Duration::ZERO);
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
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
            "limit" => match value.parse::<i64>() {
                Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => filter.limit = limit,
                _ => errors.push("limit", format!("Must be a whole number from 1 to {MAX_LIMIT}")),
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
        Err(AdminError::invalid(errors))
    }
}
