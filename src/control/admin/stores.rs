//! `/admin/…/stores`: stores, their forwarding and welcome, their numbers.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use serde::Deserialize;

use super::AdminError;
use super::json::{self, change, missing, parse_change, rejected};
use super::organizations::Items;
use crate::platform::directory::tenants::{self, Change, NewStore, PhoneAdded, Store};
use crate::platform::domain::{FieldErrors, Name, PhoneNumber, WelcomeTemplate};
use crate::startup::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStoreBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Business numbers, E.164; each may belong to one store only.
    #[serde(default)]
    #[schema(required = false, inline, value_type = Vec<String>)]
    phones: Vec<String>,
    /// Forwarding number, E.164; absent: callers hear "no forwarding".
    #[schema(pattern = "^\\+[1-9][0-9]{1,14}$")]
    forwarding: Option<String>,
    #[schema(min_length = 1, max_length = 1600)]
    welcome_message: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreChanges {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// A number sets it, `null` clears it, absent leaves it.
    #[serde(default, deserialize_with = "change")]
    #[schema(value_type = Option<String>, pattern = "^\\+[1-9][0-9]{1,14}$")]
    forwarding: Change<String>,
    /// A template sets it, `null` clears it, absent leaves it.
    #[serde(default, deserialize_with = "change")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 1600)]
    welcome_message: Change<String>,
}

/// The organization's stores, by name.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Items<Store>),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[get("/organizations/{id}/stores")]
pub async fn list(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "organization")?;
    tenants::organization(&state.pool, id)
        .await?
        .ok_or_else(|| missing("organization", id))?;
    Ok(HttpResponse::Ok().json(Items {
        items: tenants::stores(&state.pool, id).await?,
    }))
}

/// Create a store with its numbers.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), request_body = NewStoreBody, responses(
    (status = 201, body = Store),
    (status = 400, body = FieldErrors, example = json!({"phones": "'+1 415': Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits"})),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors),
    (status = 409, body = FieldErrors, example = json!({"phones": "A listed number already belongs to a store"})),
    (status = 413, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[post("/organizations/{id}/stores")]
pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "organization")?;
    let body: NewStoreBody = json::read(&req, payload).await?;
    let level = state.phone_validation.for_stored_numbers();
    let mut errors = FieldErrors::default();
    let name = Name::parse(&body.name)
        .map_err(|e| errors.push("name", e.to_string()))
        .ok();
    let phones: Result<Vec<PhoneNumber>, _> = body
        .phones
        .iter()
        .map(|raw| PhoneNumber::parse(raw, level).map_err(|e| format!("'{raw}': {e}")))
        .collect();
    let phones = phones.map_err(|e| errors.push("phones", e)).ok();
    let forwarding = body
        .forwarding
        .as_deref()
        .map(|raw| PhoneNumber::parse(raw, level))
        .transpose();
    let forwarding = forwarding.map_err(|e| errors.push("forwarding", e.to_string())).ok();
    let welcome = body.welcome_message.as_deref().map(WelcomeTemplate::parse).transpose();
    let welcome = welcome.map_err(|e| errors.push("welcome_message", e.to_string())).ok();
    let (Some(name), Some(phones), Some(forwarding), Some(welcome)) = (name, phones, forwarding, welcome) else {
        return Err(AdminError::invalid_fields(errors));
    };
    let new = NewStore {
        name: &name,
        phones: &phones,
        forwarding: forwarding.as_ref(),
        welcome: welcome.as_ref(),
    };
    let store = tenants::create_store(&state.pool, id, &new)
        .await
        .map_err(|error| store_conflict(error, &name))?;
    Ok(HttpResponse::Created().json(store.ok_or_else(|| missing("organization", id))?))
}

/// One store.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 200, body = Store),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[get("/stores/{id}")]
pub async fn show(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "store")?;
    let mut conn = state.pool.acquire().await?;
    Ok(HttpResponse::Ok().json(
        tenants::store(&mut conn, id)
            .await?
            .ok_or_else(|| missing("store", id))?,
    ))
}

/// Rename a store, or set or clear its forwarding number or welcome template.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), request_body = StoreChanges, responses(
    (status = 200, body = Store),
    (status = 400, body = FieldErrors), (status = 401, body = FieldErrors), (status = 404, body = FieldErrors),
    (status = 409, body = FieldErrors), (status = 413, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[patch("/stores/{id}")]
pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "store")?;
    let changes: StoreChanges = json::read(&req, payload).await?;
    let level = state.phone_validation.for_stored_numbers();
    let mut errors = FieldErrors::default();
    let name = changes
        .name
        .as_deref()
        .map(Name::parse)
        .transpose()
        .map_err(|e| errors.push("name", e.to_string()))
        .ok()
        .flatten();
    let forwarding = parse_change(&changes.forwarding, "forwarding", &mut errors, |raw| {
        PhoneNumber::parse(raw, level)
    });
    let welcome = parse_change(
        &changes.welcome_message,
        "welcome_message",
        &mut errors,
        WelcomeTemplate::parse,
    );
    if !errors.is_empty() {
        return Err(AdminError::invalid_fields(errors));
    }
    let updated = tenants::update_store(&state.pool, id, name.as_ref(), &forwarding, &welcome).await;
    let updated = updated.map_err(|error| match &name {
        Some(name) => store_conflict(error, name),
        None => AdminError::from(error),
    })?;
    Ok(HttpResponse::Ok().json(updated.ok_or_else(|| missing("store", id))?))
}

/// Delete a store and its numbers (its calls and SMS stay).
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[delete("/stores/{id}")]
pub async fn remove(path: web::Path<String>, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let id = json::id(&path, "store")?;
    match tenants::delete_store(&state.pool, id).await? {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(missing("store", id)),
    }
}

/// Give the store a business number (again: no change).
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path), ("phone" = String, Path, pattern = "^\\+[1-9][0-9]{1,14}$")), responses(
    (status = 200, body = Store),
    (status = 400, body = FieldErrors), (status = 401, body = FieldErrors), (status = 404, body = FieldErrors),
    (status = 409, body = FieldErrors, example = json!({"phone": "+14151234567 belongs to store 3"})),
    (status = 503, body = FieldErrors),
))]
#[put("/stores/{id}/phones/{phone}")]
pub async fn add_phone(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (id, phone) = json::id_and_phone(path.into_inner(), "store", state.phone_validation)?;
    match tenants::add_phone(&state.pool, id, &phone).await? {
        PhoneAdded::Added(store) => Ok(HttpResponse::Ok().json(store)),
        PhoneAdded::NoSuchStore => Err(missing("store", id)),
        PhoneAdded::Taken(owner) => Err(rejected(
            StatusCode::CONFLICT,
            "phone",
            format!("{phone} belongs to store {owner}"),
        )),
    }
}

/// Take a business number away from the store.
#[utoipa::path(tag = "administration", security(("admin_token" = [])), params(("id" = i64, Path), ("phone" = String, Path, pattern = "^\\+[1-9][0-9]{1,14}$")), responses(
    (status = 204, description = "Removed"),
    (status = 400, body = FieldErrors), (status = 401, body = FieldErrors), (status = 404, body = FieldErrors), (status = 503, body = FieldErrors),
))]
#[delete("/stores/{id}/phones/{phone}")]
pub async fn remove_phone(
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (id, phone) = json::id_and_phone(path.into_inner(), "store", state.phone_validation)?;
    match tenants::remove_phone(&state.pool, id, &phone).await? {
        true => Ok(HttpResponse::NoContent().finish()),
        false => Err(rejected(
            StatusCode::NOT_FOUND,
            "phone",
            format!("{phone} is not a number of store {id}"),
        )),
    }
}

/// A taken store name or business number is a 409; anything else a 503.
fn store_conflict(error: sqlx::Error, name: &Name) -> AdminError {
    let constraint = match &error {
        sqlx::Error::Database(db) => db.constraint().map(str::to_owned),
        _ => None,
    };
    match constraint.as_deref() {
        Some("stores_organization_id_name_key") => rejected(
            StatusCode::CONFLICT,
            "name",
            format!("This organization has a store named '{name}'"),
        ),
        Some("business_numbers_pkey") => rejected(
            StatusCode::CONFLICT,
            "phones",
            "A listed number already belongs to a store",
        ),
        _ => AdminError::from(error),
    }
}
