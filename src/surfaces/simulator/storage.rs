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

/// How each of `numbers` answers, for those that have a persona.
pub async fn personas_for(
    pool: &PgPool,
    numbers: &[String],
) -> sqlx::Result<std::collections::HashMap<String, Persona>> {
    let rows = sqlx::query!(
        "SELECT number, persona FROM simulator_personas WHERE number = ANY($1)",
        numbers
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        // Written from a validated Persona; one unreadable row answers as the default.
        .map(|row| (row.number, serde_json::from_value(row.persona).unwrap_or_default()))
        .collect())
}

/// A number's persona, created or replaced.
pub async fn put_persona(conn: &mut sqlx::PgConnection, number: &str, persona: &Persona) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO simulator_personas (number, persona) VALUES ($1, $2)
         ON CONFLICT (number) DO UPDATE SET persona = EXCLUDED.persona, updated_at = now()",
        number,
        serde_json::to_value(persona).expect("a persona always serializes"),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Every number with a persona, in number order.
pub async fn list_personas(pool: &PgPool) -> sqlx::Result<Vec<NumberPersona>> {
    let rows = sqlx::query!("SELECT number, persona FROM simulator_personas ORDER BY number LIMIT 1000")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| NumberPersona {
            number: row.number,
            persona: serde_json::from_value(row.persona).unwrap_or_default(),
        })
        .collect())
}

pub async fn delete_persona(pool: &PgPool, number: &str) -> sqlx::Result<bool> {
    let deleted = sqlx::query!("DELETE FROM simulator_personas WHERE number = $1", number)
        .execute(pool)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// A number and how it answers.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct NumberPersona {
    pub number: String,
    pub persona: Persona,
}
