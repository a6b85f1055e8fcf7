//! Infobip's SQL: accounts and their credentials, scenarios.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::platform::domain::KeyHash;

pub async fn account_for_api_key(pool: &PgPool, key: &KeyHash) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT account_id FROM infobip_api_keys WHERE key_hash = $1",
        key.as_ref()
    )
    .fetch_optional(pool)
    .await
}

pub async fn account_for_login(pool: &PgPool, username: &str, password: &KeyHash) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM infobip_accounts WHERE username = $1 AND password_hash = $2",
        username,
        password.as_ref()
    )
    .fetch_optional(pool)
    .await
}

/// A scenario as Infobip reads it back.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[schema(value_type = Object)]
    pub script: serde_json::Value,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub async fn create(
    pool: &PgPool,
    account_id: i64,
    name: &str,
    description: Option<&str>,
    script: &serde_json::Value,
) -> sqlx::Result<Scenario> {
    // Infobip's ids are 32 hexadecimal characters.
    let id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    sqlx::query_as!(
        Scenario,
        "INSERT INTO infobip_scenarios (id, account_id, name, description, script) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, name, description, script, create_time, update_time",
        id,
        account_id,
        name,
        description,
        script,
    )
    .fetch_one(pool)
    .await
}

pub async fn list(pool: &PgPool, account_id: i64, page: i64, size: i64) -> sqlx::Result<Vec<Scenario>> {
    sqlx::query_as!(
        Scenario,
        "SELECT id, name, description, script, create_time, update_time FROM infobip_scenarios
         WHERE account_id = $1 ORDER BY create_time, id LIMIT $2 OFFSET $3",
        account_id,
        size,
        page * size,
    )
    .fetch_all(pool)
    .await
}

pub async fn get(pool: &PgPool, account_id: i64, id: &str) -> sqlx::Result<Option<Scenario>> {
    sqlx::query_as!(
        Scenario,
        "SELECT id, name, description, script, create_time, update_time FROM infobip_scenarios
         WHERE account_id = $1 AND id = $2",
        account_id,
        id
    )
    .fetch_optional(pool)
    .await
}

pub async fn update(
    pool: &PgPool,
    account_id: i64,
    id: &str,
    name: &str,
    description: Option<&str>,
    script: &serde_json::Value,
) -> sqlx::Result<Option<Scenario>> {
    sqlx::query_as!(
        Scenario,
        "UPDATE infobip_scenarios SET name = $3, description = $4, script = $5, update_time = now()
         WHERE account_id = $1 AND id = $2
         RETURNING id, name, description, script, create_time, update_time",
        account_id,
        id,
        name,
        description,
        script,
    )
    .fetch_optional(pool)
    .await
}

pub async fn delete(pool: &PgPool, account_id: i64, id: &str) -> sqlx::Result<bool> {
    let deleted = sqlx::query!(
        "DELETE FROM infobip_scenarios WHERE account_id = $1 AND id = $2",
        account_id,
        id
    )
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected() == 1)
}
