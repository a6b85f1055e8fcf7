//! Smartflo's SQL: accounts and tokens, what an account declares, IVRs, numbers.

use std::collections::HashSet;

use sqlx::{PgConnection, PgPool};

use super::ivr::{Catalogue, Ivr};
use crate::platform::domain::KeyHash;

/// The account behind a login.
pub async fn account_for_login(pool: &PgPool, email: &str, password: &KeyHash) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT id FROM smartflo_accounts WHERE lower(email) = lower($1) AND password_hash = $2",
        email,
        password.as_ref(),
    )
    .fetch_optional(pool)
    .await
}

/// Stores a login token valid for `seconds`.
pub async fn store_token(pool: &PgPool, account_id: i64, token: &KeyHash, seconds: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO smartflo_tokens (token_hash, account_id, expires_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))",
        token.as_ref(),
        account_id,
        seconds as f64,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The account a bearer token (login or API) is valid for.
pub async fn account_for_token(pool: &PgPool, token: &KeyHash) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!(
        "SELECT account_id FROM smartflo_tokens WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > now())",
        token.as_ref(),
    )
    .fetch_optional(pool)
    .await
}

/// What one account declares, for validating its IVRs.
pub struct Declared {
    recordings: HashSet<i64>,
    destinations: HashSet<(String, String)>,
    webhooks: HashSet<i64>,
}

impl Catalogue for Declared {
    fn has_recording(&self, id: i64) -> bool {
        self.recordings.contains(&id)
    }

    fn has_destination(&self, kind: &str, id: &str) -> bool {
        // Hanging up needs nothing declared.
        kind == "hangup" || self.destinations.contains(&(kind.to_owned(), id.to_owned()))
    }

    fn has_webhook(&self, id: i64) -> bool {
        self.webhooks.contains(&id)
    }
}

pub async fn declared(conn: &mut PgConnection, account_id: i64) -> sqlx::Result<Declared> {
    let recordings = sqlx::query_scalar!("SELECT id FROM smartflo_recordings WHERE account_id = $1", account_id)
        .fetch_all(&mut *conn)
        .await?;
    let destinations = sqlx::query!(
        "SELECT type, id FROM smartflo_destinations WHERE account_id = $1",
        account_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let webhooks = sqlx::query_scalar!("SELECT id FROM smartflo_webhooks WHERE account_id = $1", account_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(Declared {
        recordings: recordings.into_iter().collect(),
        destinations: destinations.into_iter().map(|row| (row.r#type, row.id)).collect(),
        webhooks: webhooks.into_iter().collect(),
    })
}

/// Why an IVR could not be written.
pub enum WriteRefused {
    DuplicateName,
}

fn is_duplicate_name(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.constraint() == Some("smartflo_ivrs_account_id_name_key"))
}

pub async fn create(conn: &mut PgConnection, account_id: i64, ivr: &Ivr) -> sqlx::Result<Result<i64, WriteRefused>> {
    let created = sqlx::query_scalar!(
        "INSERT INTO smartflo_ivrs (account_id, name, definition) VALUES ($1, $2, $3) RETURNING id",
        account_id,
        ivr.name,
        serde_json::to_value(ivr).expect("an IVR always serialises"),
    )
    .fetch_one(conn)
    .await;
    match created {
        Ok(id) => Ok(Ok(id)),
        Err(error) if is_duplicate_name(&error) => Ok(Err(WriteRefused::DuplicateName)),
        Err(error) => Err(error),
    }
}

/// `Ok(false)` when the account has no such IVR.
pub async fn update(
    conn: &mut PgConnection,
    account_id: i64,
    id: i64,
    ivr: &Ivr,
) -> sqlx::Result<Result<bool, WriteRefused>> {
    let updated = sqlx::query!(
        "UPDATE smartflo_ivrs SET name = $3, definition = $4 WHERE account_id = $1 AND id = $2",
        account_id,
        id,
        ivr.name,
        serde_json::to_value(ivr).expect("an IVR always serialises"),
    )
    .execute(conn)
    .await;
    match updated {
        Ok(done) => Ok(Ok(done.rows_affected() == 1)),
        Err(error) if is_duplicate_name(&error) => Ok(Err(WriteRefused::DuplicateName)),
        Err(error) => Err(error),
    }
}

pub async fn delete(pool: &PgPool, account_id: i64, id: i64) -> sqlx::Result<bool> {
    let deleted = sqlx::query!(
        "DELETE FROM smartflo_ivrs WHERE account_id = $1 AND id = $2",
        account_id,
        id
    )
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// An IVR as read back: its id and the stored shape.
pub struct StoredIvr {
    pub id: i64,
    pub definition: serde_json::Value,
}

pub async fn list(pool: &PgPool, account_id: i64) -> sqlx::Result<Vec<StoredIvr>> {
    sqlx::query_as!(
        StoredIvr,
        "SELECT id, definition FROM smartflo_ivrs WHERE account_id = $1 ORDER BY id",
        account_id
    )
    .fetch_all(pool)
    .await
}

/// Every account's IVRs, newest first, with their account's email.
pub async fn all(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<(String, StoredIvr)>> {
    let rows = sqlx::query!(
        "SELECT i.id, i.definition, a.email FROM smartflo_ivrs i JOIN smartflo_accounts a ON a.id = i.account_id
         ORDER BY i.id DESC LIMIT $1",
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.email,
                StoredIvr {
                    id: row.id,
                    definition: row.definition,
                },
            )
        })
        .collect())
}

pub async fn get(pool: &PgPool, account_id: i64, id: i64) -> sqlx::Result<Option<StoredIvr>> {
    sqlx::query_as!(
        StoredIvr,
        "SELECT id, definition FROM smartflo_ivrs WHERE account_id = $1 AND id = $2",
        account_id,
        id
    )
    .fetch_optional(pool)
    .await
}

/// What answers a number: its IVR, and the account's recordings and
/// destinations that IVR may use.
pub struct Answering {
    pub ivr_id: i64,
    pub ivr: Ivr,
    pub account_id: i64,
}

pub async fn answering(pool: &PgPool, did: &str) -> sqlx::Result<Option<Answering>> {
    let row = sqlx::query!(
        r#"SELECT i.id, i.account_id, i.definition FROM smartflo_numbers n JOIN smartflo_ivrs i ON i.id = n.ivr_id
           WHERE n.did = $1::text::e164"#,
        did
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|row| {
        // Written by this surface from a validated IVR.
        let ivr = serde_json::from_value(row.definition).ok()?;
        Some(Answering {
            ivr_id: row.id,
            ivr,
            account_id: row.account_id,
        })
    }))
}

pub async fn recording_text(pool: &PgPool, account_id: i64, id: &str) -> sqlx::Result<Option<String>> {
    let Ok(id) = id.parse::<i64>() else { return Ok(None) };
    sqlx::query_scalar!(
        "SELECT text FROM smartflo_recordings WHERE account_id = $1 AND id = $2",
        account_id,
        id
    )
    .fetch_optional(pool)
    .await
}

pub async fn destination_number(pool: &PgPool, account_id: i64, kind: &str, id: &str) -> sqlx::Result<Option<String>> {
    let number = sqlx::query_scalar!(
        "SELECT number FROM smartflo_destinations WHERE account_id = $1 AND type = $2 AND id = $3",
        account_id,
        kind,
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(number.flatten())
}

pub async fn webhook_url(pool: &PgPool, account_id: i64, id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!(
        "SELECT url FROM smartflo_webhooks WHERE account_id = $1 AND id = $2",
        account_id,
        id
    )
    .fetch_optional(pool)
    .await
}
