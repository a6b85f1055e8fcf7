//! Who is calling whom: API keys and stores.

use sqlx::PgConnection;

use crate::platform::domain::{ApiKey, KeyHash, PhoneNumber};
use crate::platform::secret::Secret;

/// The organization behind an active API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    pub organization_id: i64,
    /// Set when the organization wants its calls signed by Twilio.
    pub twilio_auth_token: Option<Secret>,
}

pub async fn organization_for_key(conn: &mut PgConnection, key: &KeyHash) -> sqlx::Result<Option<KeyOwner>> {
    sqlx::query_as!(
        KeyOwner,
        r#"SELECT k.organization_id, o.twilio_auth_token AS "twilio_auth_token: Secret"
         FROM api_keys k JOIN organizations o ON o.id = k.organization_id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL"#,
        key.as_ref()
    )
    .fetch_optional(conn)
    .await
}

/// Adds a key (by digest) to the organization named `organization`; false
/// when there is no such organization.
pub async fn add_api_key(conn: &mut PgConnection, organization: &str, key: &ApiKey) -> sqlx::Result<bool> {
    let key_hash = key.hash();
    let added = sqlx::query!(
        "INSERT INTO api_keys (organization_id, key_hash, prefix) SELECT id, $2, $3 FROM organizations WHERE name = $1",
        organization,
        key_hash.as_ref(),
        key.display_prefix(),
    )
    .execute(conn)
    .await?;
    Ok(added.rows_affected() == 1)
}

/// What the hook needs to know about the store behind a business number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreRoute {
    pub store_id: i64,
    pub store_name: String,
    pub forwarding_number: Option<String>,
    pub store_welcome: Option<String>,
    pub organization_welcome: Option<String>,
}

/// The store that owns `phone`, looked up within `organization_id` only, so
/// that another tenant's number reads as "not linked".
pub async fn store_for_number(
    conn: &mut PgConnection,
    organization_id: i64,
    phone: &PhoneNumber,
) -> sqlx::Result<Option<StoreRoute>> {
    sqlx::query_as!(
        StoreRoute,
        r#"SELECT s.id AS store_id, s.name AS store_name,
                  s.forwarding_number::text AS forwarding_number,
                  s.welcome_message AS store_welcome, o.welcome_message AS organization_welcome
           FROM business_numbers b
           JOIN stores s ON s.id = b.store_id
           JOIN organizations o ON o.id = s.organization_id
           WHERE b.phone = $1 AND s.organization_id = $2"#,
        phone.as_str() as &str,
        organization_id
    )
    .fetch_optional(conn)
    .await
}
