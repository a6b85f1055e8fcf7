//! The Bot API: send a message, set a thread's status, read a thread's
//! details, its WhatsApp templates and a customer's profile; the legacy hook.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde_json::json;

use super::{ApiError, MessagingRoutes, authenticate, json_body};
use crate::platform::domain::FieldErrors;
use crate::surfaces::instaply_messaging::domain::{self, Fields, MAX_TEXT_CHARS, ThreadId, ThreadStatus};
use crate::surfaces::instaply_messaging::storage::sends::{NewSend, SendOutcome};
use crate::surfaces::instaply_messaging::storage::{threads, webhooks};

/// The body of `send-message-to-customer-thread`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
#[schema(rename_all = "camelCase")]
struct SendMessage {
    /// Free-form text; exactly one of `text` and `contentSid`.
    #[schema(min_length = 1, max_length = 4096)]
    text: Option<String>,
    /// A WhatsApp template's identifier (`HX…`); exactly one of `text` and `contentSid`.
    content_sid: Option<String>,
    #[schema(schema_with = thread_id_schema)]
    customer_thread_id: String,
    /// Visible to employees only.
    internal: Option<bool>,
}

/// A thread id: digits as a string, or a positive integer.
fn thread_id_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
    Schema::OneOf(
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]{1,18}$")),
            )
            .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
            .build(),
    )
}

/// Sends a message (text or template) into a customer thread the token's user can see.
#[utoipa::path(
    tag = "bot api",
    security(("bot_token" = [])),
    request_body = SendMessage,
    responses(
        (status = 200, description = "Sent", example = json!({"messageId": 12, "customerThreadId": "9999"})),
        (status = 400, description = "A bad field, named", body = FieldErrors, example = json!({"text": "Exactly one of text and contentSid must be given"})),
        (status = 401, description = "Missing or unknown token", body = FieldErrors, example = json!({"token": "Missing or invalid token"})),
        (status = 404, description = "No such thread, or not visible to this user", body = FieldErrors),
        (status = 409, description = "Free-form text while the WhatsApp messaging window is closed", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/api/send-message-to-customer-thread")]
pub async fn send_message(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let body = json_body(&req, payload).await?;
    let mut fields = Fields::of(&body).map_err(ApiError::invalid)?;
    let text = fields.text("text", MAX_TEXT_CHARS);
    let content_sid = fields.text("contentSid", 64);
    let thread_id = fields.required_thread("customerThreadId");
    let internal = fields.boolean("internal").unwrap_or(false);
    if fields.errors.is_empty() && text.is_some() == content_sid.is_some() {
        fields
            .errors
            .push("text", "Exactly one of text and contentSid must be given");
    }
    fields.finish().map_err(ApiError::invalid)?;
    let send = NewSend {
        user_id: user.id,
        thread_id: thread_id.expect("checked above").get(),
        text,
        content_sid,
        internal,
    };
    let thread = send.thread_id;
    let sid = send.content_sid.clone().unwrap_or_default();
    let outcome = tokio::time::timeout(state.db_timeout, state.sends.write(send))
        .await?
        .map_err(|error| ApiError::unavailable(crate::platform::telemetry::Chain(&error).to_string()))?;
    let sent = match outcome {
        SendOutcome::Sent(facts) => facts,
        SendOutcome::Hidden => return Err(ApiError::no_thread(thread)),
        SendOutcome::NoTemplate => {
            return Err(ApiError::invalid(FieldErrors::single(
                "contentSid",
                format!("No template with contentSid '{sid}'"),
            )));
        }
        SendOutcome::WindowClosed => {
            return Err(ApiError::conflict(
                "text",
                "The WhatsApp messaging window is closed: send a template (contentSid) or an internal message",
            ));
        }
    };
    Ok(HttpResponse::Ok().json(json!({
        "messageId": sent.message_id,
        "customerThreadId": sent.thread_id.to_string(),
    })))
}

/// The body of `update-thread-status`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
#[schema(rename_all = "camelCase")]
struct UpdateStatus {
    #[schema(schema_with = thread_id_schema)]
    customer_thread_id: String,
    #[schema(pattern = "^(waiting|replied|resolved)$")]
    status: String,
}

/// Sets a thread's status.
#[utoipa::path(
    tag = "bot api",
    security(("bot_token" = [])),
    request_body = UpdateStatus,
    responses(
        (status = 200, description = "Changed", example = json!({"customerThreadId": "12345", "status": "waiting"})),
        (status = 400, description = "A bad field, named", body = FieldErrors),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 404, description = "No such thread, or not visible to this user", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/api/update-thread-status")]
pub async fn update_thread_status(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let body = json_body(&req, payload).await?;
    let mut fields = Fields::of(&body).map_err(ApiError::invalid)?;
    let thread_id = fields.required_thread("customerThreadId");
    let status = match fields.value("status") {
        None => {
            fields.errors.push("status", "Missing parameter");
            None
        }
        Some(value) => {
            let status = value.as_str().and_then(ThreadStatus::parse);
            if status.is_none() {
                fields
                    .errors
                    .push("status", format!("Must be one of: {}", ThreadStatus::NAMES.join(", ")));
            }
            status
        }
    };
    fields.finish().map_err(ApiError::invalid)?;
    let (thread_id, status) = (thread_id.expect("checked"), status.expect("checked"));
    tokio::time::timeout(state.db_timeout, async {
        let mut tx = state.pool.begin().await?;
        threads::visible(&mut tx, user, thread_id)
            .await?
            .ok_or_else(|| ApiError::no_thread(thread_id.get()))?;
        threads::set_status(&mut tx, thread_id.get(), status).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({
        "customerThreadId": thread_id.get().to_string(),
        "status": status.as_str(),
    })))
}

/// `?customerThreadId=`, required.
fn thread_query(req: &HttpRequest) -> Result<ThreadId, ApiError> {
    let mut found = None;
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if name == "customerThreadId" {
            if found.is_some() {
                return Err(ApiError::invalid(FieldErrors::single(
                    "customerThreadId",
                    "Duplicate parameter",
                )));
            }
            found = Some(value.into_owned());
        }
    }
    let raw = found
        .filter(|raw| !raw.is_empty())
        .ok_or_else(|| ApiError::invalid(FieldErrors::single("customerThreadId", "Missing parameter")))?;
    ThreadId::parse(&raw).map_err(|e| ApiError::invalid(FieldErrors::single("customerThreadId", e)))
}

/// A thread's channel, status and whether free-form text may be sent.
#[utoipa::path(
    tag = "bot api",
    security(("bot_token" = [])),
    params(("customerThreadId" = String, Query, pattern = "^[0-9]{1,18}$")),
    responses(
        (status = 200, description = "The thread", example = json!({"customerChannel": "WHATSAPP", "status": "replied", "isMessagingWindowOpen": false})),
        (status = 400, description = "A bad or missing id", body = FieldErrors),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 404, description = "No such thread, or not visible to this user", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/api/get-customer-thread-details")]
pub async fn thread_details(req: HttpRequest, state: web::Data<MessagingRoutes>) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let thread_id = thread_query(&req)?;
    let thread = visible_thread(&state, user, thread_id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "customerChannel": thread.channel,
        "status": thread.status,
        "isMessagingWindowOpen": thread.window_open,
    })))
}

async fn visible_thread(
    state: &MessagingRoutes,
    user: threads::User,
    id: ThreadId,
) -> Result<threads::Thread, ApiError> {
    tokio::time::timeout(state.db_timeout, async {
        let mut conn = state.pool.acquire().await?;
        threads::visible(&mut conn, user, id).await
    })
    .await??
    .ok_or_else(|| ApiError::no_thread(id.get()))
}

/// The WhatsApp templates that may be sent into a thread.
#[utoipa::path(
    tag = "bot api",
    security(("bot_token" = [])),
    params(("customerThreadId" = String, Query, pattern = "^[0-9]{1,18}$")),
    responses(
        (status = 200, description = "The organization's templates", example = json!({"templates": [{"title": "issue_back", "text": "…", "contentSid": "HXdf71e8696fbd234e0115c69a542cb1"}]})),
        (status = 400, description = "A bad or missing id", body = FieldErrors),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 404, description = "No such thread, or not visible to this user", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/api/get-whatsapp-templates")]
pub async fn whatsapp_templates(req: HttpRequest, state: web::Data<MessagingRoutes>) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let thread_id = thread_query(&req)?;
    let thread = visible_thread(&state, user, thread_id).await?;
    let templates = tokio::time::timeout(
        state.db_timeout,
        threads::templates(&state.pool, thread.organization_id),
    )
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "templates": templates })))
}

/// A customer's profile, for a customer the token's user has a thread with.
#[utoipa::path(
    tag = "bot api",
    security(("bot_token" = [])),
    params(("customerId" = String, Path, description = "e.g. `cust_001`")),
    responses(
        (status = 200, description = "The profile", example = json!({"id": "cust_001", "type": "prospect", "editable": true, "pictureHref": null,
            "displayName": "Alan Johnson", "emailAddress": null, "phoneNumber": "+15551234567", "firstName": "Alan", "lastName": "Johnson",
            "company": null, "channel": "SMS", "customerData": [], "lastSurveys": {}})),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 404, description = "No such customer, or none this user can see", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/api/customers/{customerId}/profile")]
pub async fn customer_profile(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let customer_id = path.into_inner();
    let profile = tokio::time::timeout(state.db_timeout, threads::profile(&state.pool, user, &customer_id))
        .await??
        .ok_or_else(|| {
            let shown: String = customer_id.chars().take(40).collect();
            ApiError::not_found("customerId", format!("No customer with id {shown}"))
        })?;
    let display_name = match (&profile.first_name, &profile.last_name) {
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        (Some(name), None) | (None, Some(name)) => Some(name.clone()),
        (None, None) => profile.phone.clone().or_else(|| profile.email.clone()),
    };
    Ok(HttpResponse::Ok().json(json!({
        "id": profile.id,
        "type": profile.customer_type,
        "editable": true,
        "pictureHref": null,
        "displayName": display_name,
        "emailAddress": profile.email,
        "phoneNumber": profile.phone,
        "firstName": profile.first_name,
        "lastName": profile.last_name,
        "company": profile.company,
        "channel": profile.channel,
        "customerData": profile.customer_data,
        "lastSurveys": {},
    })))
}

/// The body of `update-hook-url`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct HookUrl {
    /// An http(s) URL; `null` removes the legacy hook.
    url: Option<String>,
}

/// Sets the organization's legacy hook: every customer-thread message that
/// is not internal is POSTed to it as a flat payload.
#[utoipa::path(
    tag = "bot api",
    security(("bot_token" = [])),
    request_body = HookUrl,
    responses(
        (status = 200, description = "Set (or removed)", example = json!({"url": "https://example.com/hook"})),
        (status = 400, description = "Not an http(s) URL", body = FieldErrors),
        (status = 401, description = "Missing or unknown token", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/api/update-hook-url")]
pub async fn update_hook_url(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<MessagingRoutes>,
) -> Result<HttpResponse, ApiError> {
    let user = authenticate(&req, &state).await?;
    let body = json_body(&req, payload).await?;
    let fields = Fields::of(&body).map_err(ApiError::invalid)?;
    if !body.as_object().is_some_and(|o| o.contains_key("url")) {
        return Err(ApiError::invalid(FieldErrors::single("url", "Missing parameter")));
    }
    let url = match fields.value("url") {
        None => None,
        Some(value) => {
            let raw = value
                .as_str()
                .ok_or_else(|| ApiError::invalid(FieldErrors::single("url", "Expected a string or null")))?;
            Some(domain::parse_url(raw).map_err(|e| ApiError::invalid(FieldErrors::single("url", e)))?)
        }
    };
    tokio::time::timeout(
        state.db_timeout,
        webhooks::set_legacy_hook(&state.pool, user.organization_id, url.as_deref()),
    )
    .await??;
    Ok(HttpResponse::Ok().json(json!({ "url": url })))
}
