//! `GET /admin/events`: a Server-Sent Events stream of calls and SMS.

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use futures_util::stream;
use tokio::sync::broadcast::error::RecvError;

use crate::control::events::{EventHub, Frame};
use crate::platform::domain::FieldErrors;
use crate::startup::AppState;

/// A comment line this often keeps proxies from closing an idle stream.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// A Server-Sent Events stream: `event: call` for each journaled call, `event: sms` for each
/// queued SMS and each status change; `data:` is the item as the listings show it.
#[utoipa::path(
    tag = "inspection",
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "An endless event stream", body = String, content_type = "text/event-stream"),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
    )
)]
#[get("/events")]
pub async fn stream_events(state: web::Data<AppState>) -> HttpResponse {
    let hub = state
        .events
        .get_or_init(|| EventHub::start(state.pool.clone(), &state.notifications));
    let receiver = hub.subscribe(Duration::from_secs(5)).await;
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.reset(); // the first tick would fire at once
    // The opening comment flushes the headers, so a client knows it is subscribed.
    let opening = stream::once(async { Ok::<_, actix_web::Error>(web::Bytes::from_static(b": subscribed\n\n")) });
    let frames = stream::unfold((receiver, keepalive), |(mut receiver, mut keepalive)| async move {
        let bytes = tokio::select! {
            frame = receiver.recv() => match frame {
                Ok(frame) => bytes_of(&frame),
                Err(RecvError::Lagged(missed)) => web::Bytes::from(format!("event: lagged\ndata: {{\"missed\":{missed}}}\n\n")),
                Err(RecvError::Closed) => return None,
            },
            _ = keepalive.tick() => web::Bytes::from_static(b": keepalive\n\n"),
        };
        Some((Ok::<_, actix_web::Error>(bytes), (receiver, keepalive)))
    });
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .streaming(futures_util::StreamExt::chain(opening, frames))
}

fn bytes_of(frame: &Frame) -> web::Bytes {
    web::Bytes::copy_from_slice(frame.as_bytes())
}
