//! `/admin/organizations`: tenants, their API keys and their opt-outs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;

use super::AdminError;
use super::json::{self, change, conflict, missing, parse_change, rejected};
use crate::control::fixtures::parse_twilio_token;
use crate::platform::directory::tenants::{self, Change, KeyItem, OptOut, Organization};
use crate::platform::domain::{ApiKey, FieldErrors, Name, WelcomeTemplate};
use crate::platform::secret::Secret;
use crate::startup::AppState;

/// `{"items": [...]}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Welcome SMS template; `{store}` becomes the store's name.
    #[schema(min_length = 1, max_length = 1600)]
    welcome_message: Option<String>,
    /// Twilio auth token: when set, calls must carry a valid X-Twilio-Signature. Never shown back.
    #[schema(min_length = 1, max_length = 128)]
    twilio_auth_token: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationChanges {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// A template sets it, `null` clears it, absent leaves it.
    #[serde(default, deserialize_with = "change")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 1600)]
    welcome_message: Change<String>,
    /// A token requires signatures, `null` stops requiring them, absent leaves it.
    #[serde(default, deserialize_with = "change")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 128)]
    twilio_auth_token: Change<String>,
}

/// A new key: the only time the key itself is shown.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    key: String,
    #[serde(flatten)]
    item: KeyItem,
}

/// Organizations, by name.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), responses(
    (status = 200, body = Items<Organization>),
    (status = 401, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[get("/organizations")]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    Ok(HttpResponse::Ok().json(Items {
        items: tenants::organizations(&state.pool).await?,
    }))
}

/// Create an organization.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), request_body = NewOrganization, responses(
    (status = 201, body = Organization),
    (status = 400, body = FieldErrors, example = json!({"name": "Must not be empty"})),
    (status = 401, body = FieldErrors),
    (status = 409, body = FieldErrors, example = json!({"name": "An organization named 'Acme Retail' exists"})),
    (status = 413, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[post("/organizations")]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let new: NewOrganization = json::read(&req, payload).await?;
    let mut errors = FieldErrors::default();
    let name = Name::parse(&new.name)
        .map_err(|e| errors.push("name", e.to_string()))
        .ok();
    let welcome = new.welcome_message.as_deref().map(WelcomeTemplate::parse).transpose();
    let welcome = welcome.map_err(|e| errors.push("welcome_message", e.to_string()));
    let token = new.twilio_auth_token.as_deref().map(parse_twilio_token).transpose();
    let token = token.map_err(|e| errors.push("twilio_auth_token", e.to_string()));
    let (Some(name), Ok(welcome), Ok(token)) = (name, welcome, token) else {
        return Err(AdminError::invalid_fields(errors));
    };
    let created =
        tenants::create_organization(&state.pool, &name, welcome.as_ref(), token.as_ref().map(Secret::expose))
            .await
            .map_err(|e| {
                conflict(
                    e,
                    "organizations_name_key",
                    "name",
                    format!("An organization named '{name}' exists"),
                )
            })?;
    Ok(HttpResponse::Created().json(created))
}

/// One organization.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Organization),
    (status = 401, body = FieldErrors),
    (status = 404, body = FieldErrors, example = json!({"organization": "No organization with id 42"})),
    (status = 503, body = FieldErrors),
))]
#[get("/organizations/{id}")]
pub async fn show(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "organization")?;
    let organization = tenants::organization(&state.pool, id)
        .await?
        .ok_or_else(|| missing("organization", id))?;
    Ok(HttpResponse::Ok().json(organization))
}

/// Rename an organization or change its welcome template.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), request_body = OrganizationChanges, responses(
    (status = 200, body = Organization),
    (status = 400, body = FieldErrors), (status = 401, body = FieldErrors), (status = 404, body = FieldErrors),
    (status = 409, body = FieldErrors), (status = 413, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[patch("/organizations/{id}")]
pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "organization")?;
    let changes: OrganizationChanges = json::read(&req, payload).await?;
    let mut errors = FieldErrors::default();
    let name = changes.name.as_deref().map(Name::parse).transpose();
    let name = name.map_err(|e| errors.push("name", e.to_string())).ok().flatten();
    let welcome = parse_change(
        &changes.welcome_message,
        "welcome_message",
        &mut errors,
        WelcomeTemplate::parse,
    );
    let token = parse_change(
        &changes.twilio_auth_token,
        "twilio_auth_token",
        &mut errors,
        parse_twilio_token,
    );
    if !errors.is_empty() {
        return Err(AdminError::invalid_fields(errors));
    }
    let taken = || {
        format!(
            "An organization named '{}' exists",
            changes.name.as_deref().unwrap_or_default()
        )
    };
    let updated = tenants::update_organization(&state.pool, id, name.as_ref(), &welcome, &token)
        .await
        .map_err(|e| conflict(e, "organizations_name_key", "name", taken()))?
        .ok_or_else(|| missing("organization", id))?;
    Ok(HttpResponse::Ok().json(updated))
}

/// Delete an organization with its keys, stores, numbers and opt-outs (its calls and SMS stay).
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[delete("/organizations/{id}")]
pub async fn remove(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "organization")?;
    match tenants::delete_organization(&state.pool, id).await? {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(missing("organization", id)),
    }
}

/// The organization's keys, by prefix (never the keys themselves).
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Items<KeyItem>),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[get("/organizations/{id}/keys")]
pub async fn list_keys(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = existing(&path, &state).await?;
    Ok(HttpResponse::Ok().json(Items {
        items: tenants::keys(&state.pool, id).await?,
    }))
}

/// Create a key: the answer is the only place it is ever shown.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 201, body = CreatedKey),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[post("/organizations/{id}/keys")]
pub async fn create_key(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "organization")?;
    let key = ApiKey::generate();
    let mut conn = state.pool.acquire().await?;
    let item = tenants::add_key(&mut conn, id, &key)
        .await?
        .ok_or_else(|| missing("organization", id))?;
    Ok(HttpResponse::Created().json(CreatedKey {
        key: key.expose().to_owned(),
        item,
    }))
}

/// Revoke a key (again: no change).
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = KeyItem),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[delete("/keys/{id}")]
pub async fn revoke_key(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "key")?;
    let key = tenants::revoke_key(&state.pool, id)
        .await?
        .ok_or_else(|| missing("key", id))?;
    Ok(HttpResponse::Ok().json(key))
}

/// Callers who asked this organization not to text them.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Items<OptOut>),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[get("/organizations/{id}/opt-outs")]
pub async fn list_opt_outs(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = existing(&path, &state).await?;
    Ok(HttpResponse::Ok().json(Items {
        items: tenants::opt_outs(&state.pool, id).await?,
    }))
}

/// Record an opt-out (again: no change).
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path), ("phone" = String, Path, pattern = "^\\+[1-9][0-9]{1,14}$")), responses(
    (status = 200, body = OptOut),
    (status = 400, body = FieldErrors), (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[put("/organizations/{id}/opt-outs/{phone}")]
pub async fn add_opt_out(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (id, phone) = json::id_and_phone(path.into_inner(), "organization", state.phone_validation)?;
    let opt_out = tenants::add_opt_out(&state.pool, id, &phone)
        .await?
        .ok_or_else(|| missing("organization", id))?;
    Ok(HttpResponse::Ok().json(opt_out))
}

/// Forget an opt-out: welcome SMS resume.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path), ("phone" = String, Path, pattern = "^\\+[1-9][0-9]{1,14}$")), responses(
    (status = 204, description = "Removed"),
    (status = 400, body = FieldErrors), (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[delete("/organizations/{id}/opt-outs/{phone}")]
pub async fn remove_opt_out(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (id, phone) = json::id_and_phone(path.into_inner(), "organization", state.phone_validation)?;
    match tenants::remove_opt_out(&state.pool, id, &phone).await? {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(rejected(
            StatusCode::NOT_FOUND,
            "phone",
            format!("{phone} has not opted out of organization {id}"),
        )),
    }
}

/// The organization id in the path, if it exists.
async fn existing(raw: &str, state: &AppState) -> Result<i64, AdminError> {
    let id = json::id(raw, "organization")?;
    tenants::organization(&state.pool, id)
        .await?
        .map(|o| o.id)
        .ok_or_else(|| missing("organization", id))
}
