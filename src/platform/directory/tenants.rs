//! Administration of the directory: organizations, their API keys, stores,
//! business numbers and opt-outs, as the admin API reads and writes them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{Acquire, PgConnection, PgPool};

use crate::platform::domain::{ApiKey, Name, PhoneNumber, WelcomeTemplate};
use crate::platform::secret::Secret;

#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Organization {
    pub id: i64,
    pub name: String,
    pub welcome_message: Option<String>,
    /// Calls must carry a valid X-Twilio-Signature (the token itself is never shown).
    pub twilio_signature_required: bool,
    pub created_at: DateTime<Utc>,
}

/// A key as listed: never the key itself.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct KeyItem {
    pub id: i64,
    /// A few leading characters, to tell keys apart.
    pub prefix: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Store {
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    /// Business numbers, E.164, sorted.
    pub phones: Vec<String>,
    pub forwarding: Option<String>,
    pub welcome_message: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct OptOut {
    pub phone: String,
    pub created_at: DateTime<Utc>,
}

/// A change to an optional text: leave it, set it, or clear it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Change<T> {
    #[default]
    Keep,
    Set(T),
    Clear,
}

impl<T> Change<T> {
    fn parts(&self) -> (bool, Option<&T>) {
        match self {
            Self::Keep => (false, None),
            Self::Set(value) => (true, Some(value)),
            Self::Clear => (true, None),
        }
    }
}

pub async fn organizations(pool: &PgPool) -> sqlx::Result<Vec<Organization>> {
    sqlx::query_as!(
        Organization,
        r#"SELECT id, name, welcome_message, twilio_auth_token IS NOT NULL AS "twilio_signature_required!", created_at
           FROM organizations ORDER BY name"#
    )
    .fetch_all(pool)
    .await
}

pub async fn organization(pool: &PgPool, id: i64) -> sqlx::Result<Option<Organization>> {
    sqlx::query_as!(
        Organization,
        r#"SELECT id, name, welcome_message, twilio_auth_token IS NOT NULL AS "twilio_signature_required!", created_at
           FROM organizations WHERE id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// Fails with the unique violation `organizations_name_key` for a taken name.
pub async fn create_organization(
    pool: &PgPool,
    name: &Name,
    welcome: Option<&WelcomeTemplate>,
    twilio_auth_token: Option<&str>,
) -> sqlx::Result<Organization> {
    sqlx::query_as!(
        Organization,
        r#"INSERT INTO organizations (name, welcome_message, twilio_auth_token) VALUES ($1, $2, $3)
           RETURNING id, name, welcome_message, twilio_auth_token IS NOT NULL AS "twilio_signature_required!", created_at"#,
        name.as_str(),
        welcome.map(WelcomeTemplate::as_str),
        twilio_auth_token,
    )
    .fetch_one(pool)
    .await
}

pub async fn update_organization(
    pool: &PgPool,
    id: i64,
    name: Option<&Name>,
    welcome: &Change<WelcomeTemplate>,
    twilio_auth_token: &Change<Secret>,
) -> sqlx::Result<Option<Organization>> {
    let (change_welcome, welcome) = welcome.parts();
    let (change_token, token) = twilio_auth_token.parts();
    sqlx::query_as!(
        Organization,
        r#"UPDATE organizations
           SET name = coalesce($2, name),
               welcome_message = CASE WHEN $3 THEN $4 ELSE welcome_message END,
               twilio_auth_token = CASE WHEN $5 THEN $6 ELSE twilio_auth_token END
           WHERE id = $1
           RETURNING id, name, welcome_message, twilio_auth_token IS NOT NULL AS "twilio_signature_required!", created_at"#,
        id,
        name.map(Name::as_str),
        change_welcome,
        welcome.map(WelcomeTemplate::as_str),
        change_token,
        token.map(Secret::expose),
    )
    .fetch_optional(pool)
    .await
}

/// Deletes the organization with its keys, stores, numbers and opt-outs;
/// its journal rows and SMS stay, unattributed.
pub async fn delete_organization(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    let deleted = sqlx::query!("DELETE FROM organizations WHERE id = $1", id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

pub async fn keys(pool: &PgPool, organization_id: i64) -> sqlx::Result<Vec<KeyItem>> {
    sqlx::query_as!(
        KeyItem,
        "SELECT id, prefix, created_at, revoked_at FROM api_keys WHERE organization_id = $1 ORDER BY id",
        organization_id
    )
    .fetch_all(pool)
    .await
}

/// Stores `key` (its digest and prefix) for the organization; `None` when
/// there is no such organization.
pub async fn add_key(conn: &mut PgConnection, organization_id: i64, key: &ApiKey) -> sqlx::Result<Option<KeyItem>> {
    let key_hash = key.hash();
    sqlx::query_as!(
        KeyItem,
        "INSERT INTO api_keys (organization_id, key_hash, prefix)
         SELECT id, $2, $3 FROM organizations WHERE id = $1
         RETURNING id, prefix, created_at, revoked_at",
        organization_id,
        key_hash.as_ref(),
        key.display_prefix(),
    )
    .fetch_optional(conn)
    .await
}

/// Revokes a key (idempotently: a second revocation keeps the first time).
pub async fn revoke_key(pool: &PgPool, id: i64) -> sqlx::Result<Option<KeyItem>> {
    sqlx::query_as!(
        KeyItem,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
         RETURNING id, prefix, created_at, revoked_at",
        id
    )
    .fetch_optional(pool)
    .await
}

pub async fn stores(pool: &PgPool, organization_id: i64) -> sqlx::Result<Vec<Store>> {
    sqlx::query_as!(
        Store,
        r#"SELECT s.id, s.organization_id, s.name,
                  coalesce(array_agg(b.phone::text ORDER BY b.phone) FILTER (WHERE b.phone IS NOT NULL), '{}') AS "phones!",
                  s.forwarding_number::text AS forwarding, s.welcome_message, s.created_at
           FROM stores s LEFT JOIN business_numbers b ON b.store_id = s.id
           WHERE s.organization_id = $1
           GROUP BY s.id
           ORDER BY s.name"#,
        organization_id
    )
    .fetch_all(pool)
    .await
}

pub async fn store(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Store>> {
    sqlx::query_as!(
        Store,
        r#"SELECT s.id, s.organization_id, s.name,
                  coalesce(array_agg(b.phone::text ORDER BY b.phone) FILTER (WHERE b.phone IS NOT NULL), '{}') AS "phones!",
                  s.forwarding_number::text AS forwarding, s.welcome_message, s.created_at
           FROM stores s LEFT JOIN business_numbers b ON b.store_id = s.id
           WHERE s.id = $1
           GROUP BY s.id"#,
        id
    )
    .fetch_optional(conn)
    .await
}

/// What a new store is made of.
pub struct NewStore<'a> {
    pub name: &'a Name,
    pub phones: &'a [PhoneNumber],
    pub forwarding: Option<&'a PhoneNumber>,
    pub welcome: Option<&'a WelcomeTemplate>,
}

/// Creates a store with its numbers in one transaction. `None` when there is
/// no such organization; unique violations `stores_organization_id_name_key`
/// (name taken) and `business_numbers_pkey` (number taken) pass through.
pub async fn create_store(pool: &PgPool, organization_id: i64, new: &NewStore<'_>) -> sqlx::Result<Option<Store>> {
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        "INSERT INTO stores (organization_id, name, forwarding_number, welcome_message)
         SELECT id, $2, $3, $4 FROM organizations WHERE id = $1
         RETURNING id",
        organization_id,
        new.name.as_str(),
        new.forwarding.map(PhoneNumber::as_str) as Option<&str>,
        new.welcome.map(WelcomeTemplate::as_str),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(id) = id else { return Ok(None) };
    for phone in new.phones {
        sqlx::query!(
            "INSERT INTO business_numbers (phone, store_id) VALUES ($1, $2)",
            phone.as_str() as &str,
            id
        )
        .execute(&mut *tx)
        .await?;
    }
    let store = store(&mut tx, id).await?;
    tx.commit().await?;
    Ok(store)
}

pub async fn update_store(
    pool: &PgPool,
    id: i64,
    name: Option<&Name>,
    forwarding: &Change<PhoneNumber>,
    welcome: &Change<WelcomeTemplate>,
) -> sqlx::Result<Option<Store>> {
    let mut conn = pool.acquire().await?;
    let (change_forwarding, forwarding) = forwarding.parts();
    let (change_welcome, welcome) = welcome.parts();
    let updated = sqlx::query!(
        "UPDATE stores
         SET name = coalesce($2, name),
             forwarding_number = CASE WHEN $3 THEN $4 ELSE forwarding_number END,
             welcome_message = CASE WHEN $5 THEN $6 ELSE welcome_message END
         WHERE id = $1",
        id,
        name.map(Name::as_str),
        change_forwarding,
        forwarding.map(PhoneNumber::as_str) as Option<&str>,
        change_welcome,
        welcome.map(WelcomeTemplate::as_str),
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    store(&mut conn, id).await
}

pub async fn delete_store(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    let deleted = sqlx::query!("DELETE FROM stores WHERE id = $1", id)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// What adding a number to a store did.
#[derive(Debug)]
pub enum PhoneAdded {
    Added(Store),
    NoSuchStore,
    /// The number belongs to another store (its id).
    Taken(i64),
}

/// Adds `phone` to the store (idempotently); a number of another store is
/// left where it is.
pub async fn add_phone(pool: &PgPool, store_id: i64, phone: &PhoneNumber) -> sqlx::Result<PhoneAdded> {
    let mut tx = pool.begin().await?;
    let Some(_) = store(&mut tx, store_id).await? else {
        return Ok(PhoneAdded::NoSuchStore);
    };
    let owner = sqlx::query_scalar!(
        "INSERT INTO business_numbers (phone, store_id) VALUES ($1, $2)
         ON CONFLICT (phone) DO UPDATE SET phone = EXCLUDED.phone
         RETURNING store_id",
        phone.as_str() as &str,
        store_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if owner != store_id {
        return Ok(PhoneAdded::Taken(owner));
    }
    let store = store(&mut tx, store_id)
        .await?
        .expect("the store was just read in this transaction");
    tx.commit().await?;
    Ok(PhoneAdded::Added(store))
}

/// Removes `phone` from the store; false when it was not one of its numbers.
pub async fn remove_phone(pool: &PgPool, store_id: i64, phone: &PhoneNumber) -> sqlx::Result<bool> {
    let removed = sqlx::query!(
        "DELETE FROM business_numbers WHERE phone = $1 AND store_id = $2",
        phone.as_str() as &str,
        store_id
    )
    .execute(pool)
    .await?;
    Ok(removed.rows_affected() == 1)
}

pub async fn opt_outs(pool: &PgPool, organization_id: i64) -> sqlx::Result<Vec<OptOut>> {
    sqlx::query_as!(
        OptOut,
        r#"SELECT phone::text AS "phone!", created_at FROM opt_outs WHERE organization_id = $1 ORDER BY phone"#,
        organization_id
    )
    .fetch_all(pool)
    .await
}

/// Records an opt-out (idempotently); `None` when there is no such organization.
pub async fn add_opt_out(pool: &PgPool, organization_id: i64, phone: &PhoneNumber) -> sqlx::Result<Option<OptOut>> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1) AS "exists!""#,
        organization_id
    )
    .fetch_one(&mut *tx)
    .await?;
    if !exists {
        return Ok(None);
    }
    let opt_out = sqlx::query_as!(
        OptOut,
        r#"INSERT INTO opt_outs (organization_id, phone) VALUES ($1, $2)
           ON CONFLICT (organization_id, phone) DO UPDATE SET phone = EXCLUDED.phone
           RETURNING phone::text AS "phone!", created_at"#,
        organization_id,
        phone.as_str() as &str
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(opt_out))
}

pub async fn remove_opt_out(pool: &PgPool, organization_id: i64, phone: &PhoneNumber) -> sqlx::Result<bool> {
    let removed = sqlx::query!(
        "DELETE FROM opt_outs WHERE organization_id = $1 AND phone = $2",
        organization_id,
        phone.as_str() as &str
    )
    .execute(pool)
    .await?;
    Ok(removed.rows_affected() == 1)
}
