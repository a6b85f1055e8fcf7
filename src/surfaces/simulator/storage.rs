//! The journal of simulated calls.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::persona::Persona;
use super::transcript::Transcript;

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SimulationItem {
    pub id: i64,
    pub url: String,
    pub from: String,
    pub to: String,
    pub ended: String,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub persona: serde_json::Value,
    #[schema(value_type = Object)]
    pub transcript: serde_json::Value,
}

pub async fn record(pool: &PgPool, url: &str, persona: &Persona, transcript: &Transcript) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO simulations (url, from_number, to_number, persona, ended, transcript)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        url,
        transcript.from,
        transcript.to,
        serde_json::to_value(persona).expect("a persona always serialises"),
        transcript.ended.as_str(),
        serde_json::to_value(transcript).expect("a transcript always serialises"),
    )
    .fetch_one(pool)
    .await
}

pub async fn list(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<SimulationItem>> {
    sqlx::query_as!(
        SimulationItem,
        r#"SELECT id, url, from_number AS "from", to_number AS "to", ended, created_at, persona, transcript
           FROM simulations ORDER BY id DESC LIMIT $1"#,
        limit,
    )
    .fetch_all(pool)
    .await
}

pub async fn get(pool: &PgPool, id: i64) -> sqlx::Result<Option<SimulationItem>> {
    sqlx::query_as!(
        SimulationItem,
        r#"SELECT id, url, from_number AS "from", to_number AS "to", ended, created_at, persona, transcript
           FROM simulations WHERE id = $1"#,
        id,
    )
    .fetch_optional(pool)
    .await
}
