//! `/smartflo/v1/…` (Smartflo's API, with its error shape) and
//! `/smartflo/numbers/{did}/voice` (what a call to a Smartflo number plays).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, delete, get, post, put, web};
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa_actix_web::service_config::ServiceConfig;

use super::ivr::{self, Errors, Ivr};
use super::storage::{self, WriteRefused};
use super::voice::{self, State};
use crate::platform::domain::ApiKey;
use crate::platform::http::body;

/// Login tokens last this long (Smartflo's `expires_in`).
const TOKEN_SECONDS: i64 = 3600;

pub struct SmartfloRoutes {
    pub pool: PgPool,
    pub db_timeout: Duration,
    /// For the options' webhooks.
    pub client: reqwest::Client,
}

impl SmartfloRoutes {
    pub fn new(pool: PgPool, db_timeout: Duration) -> Self {
        Self {
            pool,
            db_timeout,
            client: crate::platform::outbox::http::http_client(Duration::from_secs(5)),
        }
    }
}

/// Under `/admin` (mounted by the admin API, behind its token).
pub fn configure_admin(cfg: &mut ServiceConfig<'_>) {
    cfg.service(admin_list_ivrs);
}

/// Every account's IVRs, for the dashboard.
#[utoipa::path(
    tag = "smartflo",
    security(("admin_token" = [])),
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Items (default 50)")),
    responses(
        (status = 200, description = "`{\"items\": [IVR with id and account]}`"),
        (status = 400, description = "A bad limit"),
        (status = 401, description = "Missing or wrong bearer token"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[get("/smartflo/ivrs")]
pub async fn admin_list_ivrs(
    req: HttpRequest,
    state: web::Data<SmartfloRoutes>,
) -> Result<HttpResponse, SmartfloError> {
    let mut limit = crate::platform::http::DEFAULT_PAGE;
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        let bad = || SmartfloError::Refused(StatusCode::BAD_REQUEST, format!("Invalid {name}: use limit, 1 to 500"));
        match name.as_ref() {
            "limit" => limit = crate::platform::http::page_limit(&value).ok_or_else(bad)?,
            _ => return Err(bad()),
        }
    }
    let ivrs = tokio::time::timeout(state.db_timeout, storage::all(&state.pool, limit)).await??;
    let items: Vec<Value> = ivrs
        .into_iter()
        .map(|(account, stored)| {
            let mut shape = with_id(stored);
            if let Some(object) = shape.as_object_mut() {
                object.insert("account".into(), json!(account));
            }
            shape
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(login)
        .service(create_ivr)
        .service(list_ivrs)
        .service(show_ivr)
        .service(update_ivr)
        .service(delete_ivr)
        .service(voice_get)
        .service(voice_post);
}

/// Smartflo's errors: `{"success": false, "message": …}` (and `errors` for validation).
#[derive(Debug, thiserror::Error)]
pub enum SmartfloError {
    #[error("{0}")]
    Refused(StatusCode, String),
    #[error("invalid IVR")]
    Invalid(Value),
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for SmartfloError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<tokio::time::error::Elapsed> for SmartfloError {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Self::Unavailable("the database did not answer within IVR_DB_TIMEOUT".into())
    }
}

impl From<body::ReadError> for SmartfloError {
    fn from(error: body::ReadError) -> Self {
        Self::Refused(error.status(), error.to_string())
    }
}

impl From<Errors> for SmartfloError {
    fn from(errors: Errors) -> Self {
        Self::Invalid(errors.to_json())
    }
}

impl ResponseError for SmartfloError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Refused(status, _) => *status,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            Self::Refused(_, message) => json!({"success": false, "message": message}),
            Self::Invalid(body) => body.clone(),
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "Smartflo API answering 503");
                json!({"success": false, "message": "Service temporarily unavailable"})
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unavailable(_)) {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response.content_type(ContentType::json()).body(body.to_string())
    }
}

fn unauthenticated() -> SmartfloError {
    SmartfloError::Refused(StatusCode::UNAUTHORIZED, "Unauthenticated.".into())
}

async fn json_body(req: &HttpRequest, payload: web::Payload) -> Result<Value, SmartfloError> {
    let bytes = body::read_limited(req, payload, 64 * 1024).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| SmartfloError::Refused(StatusCode::BAD_REQUEST, format!("Invalid JSON: {e}")))
}

/// The account behind `Authorization: Bearer <token>`.
async fn account(req: &HttpRequest, state: &SmartfloRoutes) -> Result<i64, SmartfloError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .and_then(|token| ApiKey::parse(token.trim()).ok())
        .ok_or_else(unauthenticated)?;
    tokio::time::timeout(state.db_timeout, storage::account_for_token(&state.pool, &token.hash()))
        .await??
        .ok_or_else(unauthenticated)
}

#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct Login {
    #[schema(max_length = 256, example = "ops@acme.example")]
    email: String,
    #[schema(max_length = 256, example = "smartflo-demo")]
    password: String,
}

/// Logs in; the token goes in `Authorization: Bearer …` on every other call.
#[utoipa::path(
    tag = "smartflo",
    request_body = Login,
    responses(
        (status = 200, description = "Logged in", example = json!({"success": true, "access_token": "…", "token_type": "bearer", "expires_in": 3600})),
        (status = 400, description = "Not a JSON object with email and password"),
        (status = 401, description = "Wrong email or password", example = json!({"success": false, "message": "Invalid email or password."})),
        (status = 413, description = "Body over 64 KiB"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[post("/smartflo/v1/auth/login")]
pub async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<SmartfloRoutes>,
) -> Result<HttpResponse, SmartfloError> {
    let body = json_body(&req, payload).await?;
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256 && !s.contains('\0'))
    };
    let (Some(email), Some(password)) = (field("email"), field("password")) else {
        return Err(SmartfloError::Refused(
            StatusCode::BAD_REQUEST,
            "The email and password fields are required.".into(),
        ));
    };
    let password = ApiKey::parse(password)
        .map_err(|_| SmartfloError::Refused(StatusCode::UNAUTHORIZED, "Invalid email or password.".into()))?;
    let account = tokio::time::timeout(
        state.db_timeout,
        storage::account_for_login(&state.pool, email, &password.hash()),
    )
    .await??
    .ok_or_else(|| SmartfloError::Refused(StatusCode::UNAUTHORIZED, "Invalid email or password.".into()))?;
    let token = ApiKey::generate();
    tokio::time::timeout(
        state.db_timeout,
        storage::store_token(&state.pool, account, &token.hash(), TOKEN_SECONDS),
    )
    .await??;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "access_token": token.expose(),
        "token_type": "bearer",
        "expires_in": TOKEN_SECONDS,
    })))
}

/// Creates an IVR (every field of Smartflo's page; references to declared recordings, destinations, webhooks).
#[utoipa::path(
    tag = "smartflo",
    security(("smartflo_token" = [])),
    request_body(content = Object, description = "Smartflo's Create IVR body"),
    responses(
        (status = 200, description = "Created; Location names it", example = json!({"success": true, "message": "IVR created successfully."})),
        (status = 400, description = "Every bad field", example = json!({"success": false, "message": "The name field is required.", "errors": {"name": ["The name field is required."]}})),
        (status = 401, description = "Missing or invalid token", example = json!({"success": false, "message": "Unauthenticated."})),
        (status = 409, description = "An IVR of that name exists"),
        (status = 413, description = "Body over 64 KiB"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[post("/smartflo/v1/ivr")]
pub async fn create_ivr(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<SmartfloRoutes>,
) -> Result<HttpResponse, SmartfloError> {
    let account = account(&req, &state).await?;
    let body = json_body(&req, payload).await?;
    let id = tokio::time::timeout(state.db_timeout, async {
        let mut tx = state.pool.begin().await?;
        let ivr = ivr::parse(&body, &storage::declared(&mut tx, account).await?)?;
        let id = storage::create(&mut tx, account, &ivr).await?.map_err(duplicate)?;
        tx.commit().await?;
        Ok::<_, SmartfloError>(id)
    })
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::LOCATION, format!("/smartflo/v1/ivr/{id}")))
        .json(json!({"success": true, "message": "IVR created successfully."})))
}

fn duplicate(_: WriteRefused) -> SmartfloError {
    SmartfloError::Refused(StatusCode::CONFLICT, "The name has already been taken.".into())
}

fn not_found() -> SmartfloError {
    SmartfloError::Refused(StatusCode::NOT_FOUND, "IVR not found.".into())
}

fn ivr_id(raw: &str) -> Result<i64, SmartfloError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(not_found)
}

fn with_id(stored: storage::StoredIvr) -> Value {
    let mut shape = stored.definition;
    if let Some(object) = shape.as_object_mut() {
        object.insert("id".into(), json!(stored.id));
    }
    shape
}

/// The account's IVRs, in Smartflo's read shape.
#[utoipa::path(
    tag = "smartflo",
    security(("smartflo_token" = [])),
    responses(
        (status = 200, description = "`{\"ivrs\": [...]}`", example = json!({"ivrs": [{"id": 7926, "name": "Welcome IVR", "ivr_menu": []}]})),
        (status = 401, description = "Missing or invalid token"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[get("/smartflo/v1/ivrs")]
pub async fn list_ivrs(req: HttpRequest, state: web::Data<SmartfloRoutes>) -> Result<HttpResponse, SmartfloError> {
    let account = account(&req, &state).await?;
    let ivrs = tokio::time::timeout(state.db_timeout, storage::list(&state.pool, account)).await??;
    Ok(HttpResponse::Ok().json(json!({ "ivrs": ivrs.into_iter().map(with_id).collect::<Vec<_>>() })))
}

/// One IVR.
#[utoipa::path(
    tag = "smartflo",
    security(("smartflo_token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The IVR", body = Ivr),
        (status = 401, description = "Missing or invalid token"),
        (status = 404, description = "No such IVR in this account", example = json!({"success": false, "message": "IVR not found."})),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[get("/smartflo/v1/ivr/{id}")]
pub async fn show_ivr(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<SmartfloRoutes>,
) -> Result<HttpResponse, SmartfloError> {
    let account = account(&req, &state).await?;
    let id = ivr_id(&path)?;
    let stored = tokio::time::timeout(state.db_timeout, storage::get(&state.pool, account, id))
        .await??
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(with_id(stored)))
}

/// Replaces an IVR (the same rules as create).
#[utoipa::path(
    tag = "smartflo",
    security(("smartflo_token" = [])),
    params(("id" = String, Path)),
    request_body(content = Object, description = "Smartflo's Update IVR body"),
    responses(
        (status = 200, description = "Updated", example = json!({"success": true, "message": "IVR updated successfully."})),
        (status = 400, description = "Every bad field"),
        (status = 401, description = "Missing or invalid token"),
        (status = 404, description = "No such IVR in this account"),
        (status = 409, description = "Another IVR has that name"),
        (status = 413, description = "Body over 64 KiB"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[put("/smartflo/v1/ivr/{id}")]
pub async fn update_ivr(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<SmartfloRoutes>,
) -> Result<HttpResponse, SmartfloError> {
    let account = account(&req, &state).await?;
    let id = ivr_id(&path)?;
    let body = json_body(&req, payload).await?;
    tokio::time::timeout(state.db_timeout, async {
        let mut tx = state.pool.begin().await?;
        let ivr: Ivr = ivr::parse(&body, &storage::declared(&mut tx, account).await?)?;
        if !storage::update(&mut tx, account, id, &ivr).await?.map_err(duplicate)? {
            return Err(not_found());
        }
        tx.commit().await?;
        Ok(())
    })
    .await??;
    Ok(HttpResponse::Ok().json(json!({"success": true, "message": "IVR updated successfully."})))
}

/// Deletes an IVR; numbers that answered with it stop answering.
#[utoipa::path(
    tag = "smartflo",
    security(("smartflo_token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "Deleted", example = json!({"success": true, "message": "IVR deleted successfully."})),
        (status = 401, description = "Missing or invalid token"),
        (status = 404, description = "No such IVR in this account"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[delete("/smartflo/v1/ivr/{id}")]
pub async fn delete_ivr(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<SmartfloRoutes>,
) -> Result<HttpResponse, SmartfloError> {
    let account = account(&req, &state).await?;
    let id = ivr_id(&path)?;
    if !tokio::time::timeout(state.db_timeout, storage::delete(&state.pool, account, id)).await?? {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(json!({"success": true, "message": "IVR deleted successfully."})))
}

/// What a call to a Smartflo number plays at this step, as TwiML (Twilio's `From` is the caller, `Digits` the keys).
#[utoipa::path(
    tag = "smartflo",
    params(
        ("did" = String, Path, description = "The number called, E.164"),
        ("t" = Option<i64>, Query, minimum = 0, maximum = 100, description = "Timeouts so far"),
        ("i" = Option<i64>, Query, minimum = 0, maximum = 100, description = "Invalid entries so far"),
        ("timedout" = Option<u8>, Query, minimum = 0, maximum = 1),
        ("From" = Option<String>, Query, description = "The caller (GET; POST sends Twilio's form)"),
        ("Digits" = Option<String>, Query, description = "Keys pressed (GET)"),
    ),
    responses((status = 200, description = "TwiML", body = String, content_type = "text/xml; charset=utf-8"),
              (status = 400, description = "A bad state parameter"),
              (status = 503, description = "The database cannot be reached"))
)]
#[get("/smartflo/numbers/{did}/voice")]
pub async fn voice_get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<SmartfloRoutes>,
) -> Result<HttpResponse, SmartfloError> {
    let params: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    voice_answer(&req, &path, &params, &state).await
}

/// The same, with Twilio's parameters as a form (the simulator's default).
#[utoipa::path(
    tag = "smartflo",
    params(("did" = String, Path, description = "The number called, E.164")),
    responses((status = 200, description = "TwiML", body = String, content_type = "text/xml; charset=utf-8"),
              (status = 400, description = "A bad state parameter"),
              (status = 413, description = "Body over 64 KiB"),
              (status = 503, description = "The database cannot be reached"))
)]
#[post("/smartflo/numbers/{did}/voice")]
pub async fn voice_post(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<SmartfloRoutes>,
) -> Result<HttpResponse, SmartfloError> {
    let bytes = body::read_limited(&req, payload, 64 * 1024).await?;
    let params: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    voice_answer(&req, &path, &params, &state).await
}

async fn voice_answer(
    req: &HttpRequest,
    did: &str,
    params: &[(String, String)],
    state: &SmartfloRoutes,
) -> Result<HttpResponse, SmartfloError> {
    let query: State = serde_urlencoded_state(req.query_string())?;
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let caller = param("From").unwrap_or("anonymous");
    let call = voice::Call {
        pool: &state.pool,
        client: &state.client,
        did,
        caller,
    };
    let verbs = tokio::time::timeout(
        state.db_timeout + Duration::from_secs(5),
        voice::answer(&call, query, param("Digits")),
    )
    .await??;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/xml; charset=utf-8"))
        .body(voice::render(&verbs)))
}

/// The call's state from the action URL's `t`, `i` and `timedout`.
fn serde_urlencoded_state(query: &str) -> Result<State, SmartfloError> {
    let mut state = State::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let number = || value.parse::<i64>().ok().filter(|n| (0..=100).contains(n));
        let bad = || SmartfloError::Refused(StatusCode::BAD_REQUEST, format!("Invalid {name}"));
        match name.as_ref() {
            "t" => state.t = number().ok_or_else(bad)?,
            "i" => state.i = number().ok_or_else(bad)?,
            "timedout" => state.timedout = number().filter(|n| *n <= 1).ok_or_else(bad)? as u8,
            _ => {}
        }
    }
    Ok(state)
}
