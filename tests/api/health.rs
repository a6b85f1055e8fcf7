use crate::helpers::*;

#[tokio::test]
async fn healthz_and_readyz_answer_json() {
    let app = spawn_app().await;
    app.request(reqwest::Method::GET, "/healthz")
        .await
        .assert_json(200, r#"{"status":"ok"}"#);
    app.request(reqwest::Method::GET, "/readyz")
        .await
        .assert_json(200, r#"{"status":"ready"}"#);
}

#[tokio::test]
async fn readyz_is_503_until_migrations_are_applied() {
    let app = spawn_app().await;
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&app.pool)
        .await
        .unwrap();
    app.request(reqwest::Method::GET, "/readyz")
        .await
        .assert_json(503, r#"{"service":"Temporarily unavailable"}"#);
}
