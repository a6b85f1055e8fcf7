//! Applying a validated fixtures document: upserts in one transaction.

use sqlx::{Acquire, PgConnection};

use crate::fixtures::{FixtureError, Fixtures, OrganizationFixture};
use crate::secret::Secret;

/// What loading a document touched, for the line said after a seed.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub organizations: usize,
    pub stores: usize,
    pub phones: usize,
    pub keys: usize,
    pub opt_outs: usize,
}

impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counted = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{}, {}, {}, {}, {}",
            counted(self.organizations, "organization", "organizations"),
            counted(self.stores, "store", "stores"),
            counted(self.phones, "business number", "business numbers"),
            counted(self.keys, "API key", "API keys"),
            counted(self.opt_outs, "opt-out", "opt-outs"),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Refused(#[from] FixtureError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Upserts organizations (by name), their keys (by hash), stores (by
/// organization and name), business numbers (by number: a number listed here
/// moves to this store) and opt-outs. All of it, or nothing.
pub async fn apply(conn: &mut PgConnection, fixtures: &Fixtures) -> Result<Applied, ApplyError> {
    let mut tx = conn.begin().await?;
    // Replicas may seed the same file at the same start-up: take turns.
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtext('ivr-gateway fixtures'))")
        .execute(&mut *tx)
        .await?;
    let mut applied = Applied::default();
    for organization in &fixtures.organizations {
        upsert_organization(&mut tx, organization, &mut applied).await?;
    }
    for opt_out in &fixtures.opt_outs {
        let inserted = sqlx::query_scalar!(
            r#"INSERT INTO opt_outs (organization_id, phone)
               SELECT id, $2 FROM organizations WHERE name = $1
               ON CONFLICT (organization_id, phone) DO UPDATE SET phone = EXCLUDED.phone
               RETURNING organization_id"#,
            opt_out.organization,
            opt_out.phone.as_str() as &str,
        )
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            return Err(FixtureError {
                location: opt_out.location.clone(),
                reason: format!("opt-out for unknown organization '{}'", opt_out.organization),
            }
            .into());
        }
        applied.opt_outs += 1;
    }
    tx.commit().await?;
    Ok(applied)
}

async fn upsert_organization(
    tx: &mut PgConnection,
    organization: &OrganizationFixture,
    applied: &mut Applied,
) -> sqlx::Result<()> {
    let organization_id = sqlx::query_scalar!(
        "INSERT INTO organizations (name, welcome_message, twilio_auth_token) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE
             SET welcome_message = EXCLUDED.welcome_message, twilio_auth_token = EXCLUDED.twilio_auth_token
         RETURNING id",
        organization.name,
        organization.welcome_message,
        organization.twilio_auth_token.as_ref().map(Secret::expose),
    )
    .fetch_one(&mut *tx)
    .await?;
    applied.organizations += 1;

    for key in &organization.api_keys {
        let key_hash = key.hash();
        sqlx::query!(
            "INSERT INTO api_keys (organization_id, key_hash, prefix) VALUES ($1, $2, $3)
             ON CONFLICT (key_hash) DO UPDATE
                 SET organization_id = EXCLUDED.organization_id, revoked_at = NULL, prefix = EXCLUDED.prefix",
            organization_id,
            key_hash.as_ref(),
            key.display_prefix(),
        )
        .execute(&mut *tx)
        .await?;
        applied.keys += 1;
    }

    for store in &organization.stores {
        let store_id = sqlx::query_scalar!(
            "INSERT INTO stores (organization_id, name, forwarding_number, welcome_message) VALUES ($1, $2, $3, $4)
             ON CONFLICT (organization_id, name) DO UPDATE
                 SET forwarding_number = EXCLUDED.forwarding_number, welcome_message = EXCLUDED.welcome_message
             RETURNING id",
            organization_id,
            store.name,
            store.forwarding.as_ref().map(|n| n.as_str()) as Option<&str>,
            store.welcome_message,
        )
        .fetch_one(&mut *tx)
        .await?;
        applied.stores += 1;
        for phone in &store.phones {
            sqlx::query!(
                "INSERT INTO business_numbers (phone, store_id) VALUES ($1, $2)
                 ON CONFLICT (phone) DO UPDATE SET store_id = EXCLUDED.store_id",
                phone.as_str() as &str,
                store_id,
            )
            .execute(&mut *tx)
            .await?;
            applied.phones += 1;
        }
    }
    Ok(())
}
