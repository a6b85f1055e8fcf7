//! Users, their visibility, threads, templates and customer profiles: SQL only.

use sqlx::{PgConnection, PgPool};

use crate::platform::domain::KeyHash;
use crate::surfaces::instaply_messaging::domain::{ThreadId, ThreadStatus};

/// The user a Bot API token belongs to.
#[derive(Clone, Copy, Debug)]
pub struct User {
    pub id: i64,
    pub organization_id: i64,
}

pub async fn user_for_token(pool: &PgPool, token: &KeyHash) -> sqlx::Result<Option<User>> {
    sqlx::query_as!(
        User,
        "SELECT u.id, u.organization_id FROM messaging_tokens t JOIN messaging_users u ON u.id = t.user_id
         WHERE t.token_hash = $1",
        token.as_ref(),
    )
    .fetch_optional(pool)
    .await
}

/// A thread as the Bot API needs it.
#[derive(Clone, Debug)]
pub struct Thread {
    pub id: i64,
    pub organization_id: i64,
    pub store_id: i64,
    pub customer_id: String,
    pub customer_type: String,
    pub channel: String,
    pub status: String,
    /// WhatsApp: within 24 h of the customer's last message; other channels: always.
    pub window_open: bool,
}

/// The thread, if it exists and `user` is a member of its business. Not
/// locked: a send only adds a message, and the writes that change the
/// thread lock it themselves.
pub async fn visible(conn: &mut PgConnection, user: User, id: ThreadId) -> sqlx::Result<Option<Thread>> {
    sqlx::query_as!(
        Thread,
        r#"SELECT t.id, t.organization_id, t.store_id, t.customer_id, c.customer_type, t.channel, t.status,
                  (t.channel <> 'WHATSAPP' OR t.last_customer_message_at > now() - interval '24 hours') AS "window_open!"
           FROM customer_threads t JOIN customers c ON c.id = t.customer_id
           WHERE t.id = $1 AND EXISTS (SELECT 1 FROM messaging_memberships m WHERE m.user_id = $2 AND m.store_id = t.store_id)"#,
        id.get(),
        user.id,
    )
    .fetch_optional(conn)
    .await
}

pub async fn set_status(conn: &mut PgConnection, thread_id: i64, status: ThreadStatus) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE customer_threads SET status = $2 WHERE id = $1",
        thread_id,
        status.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub title: String,
    pub text: String,
    pub content_sid: String,
}

pub async fn templates(pool: &PgPool, organization_id: i64) -> sqlx::Result<Vec<Template>> {
    sqlx::query_as!(
        Template,
        "SELECT title, text, content_sid FROM whatsapp_templates WHERE organization_id = $1 ORDER BY title, id",
        organization_id,
    )
    .fetch_all(pool)
    .await
}

/// The organization's template with this `contentSid`, if any.
pub async fn template(
    conn: &mut PgConnection,
    organization_id: i64,
    content_sid: &str,
) -> sqlx::Result<Option<Template>> {
    sqlx::query_as!(
        Template,
        "SELECT title, text, content_sid FROM whatsapp_templates WHERE organization_id = $1 AND content_sid = $2",
        organization_id,
        content_sid,
    )
    .fetch_optional(conn)
    .await
}

/// A customer's profile, as `GET /api/customers/{id}/profile` shows it.
#[derive(Clone, Debug)]
pub struct ProfileRow {
    pub id: String,
    pub customer_type: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub customer_data: serde_json::Value,
    pub channel: Option<String>,
}

/// The customer, if `user` sees one of their threads.
pub async fn profile(pool: &PgPool, user: User, customer_id: &str) -> sqlx::Result<Option<ProfileRow>> {
    sqlx::query_as!(
        ProfileRow,
        r#"SELECT c.id, c.customer_type, c.email, c.phone::text AS phone, c.first_name, c.last_name, c.company,
                  c.customer_data, t.channel AS "channel?"
           FROM customers c
           JOIN LATERAL (
               SELECT t.channel FROM customer_threads t
               JOIN messaging_memberships m ON m.store_id = t.store_id AND m.user_id = $2
               WHERE t.customer_id = c.id ORDER BY t.id DESC LIMIT 1
           ) t ON true
           WHERE c.id = $1"#,
        customer_id,
        user.id,
    )
    .fetch_optional(pool)
    .await
}
