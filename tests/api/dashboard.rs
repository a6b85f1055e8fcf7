//! The dashboard's page and assets (its behaviour is tested in a real
//! browser: tests/browser/dashboard.py), and the admin routes it added.

use reqwest::Method;

use crate::helpers::*;

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_a_strict_policy() {
    let app = spawn_app_with(TestSettings {
        admin_token: Some("secret"),
        ..Default::default()
    })
    .await;
    for (path, content_type, marker) in [
        ("/", "text/html; charset=utf-8", "<title>ivr-gateway</title>"),
        ("/dashboard/app.js", "text/javascript; charset=utf-8", "textContent"),
        ("/dashboard/app.css", "text/css; charset=utf-8", ":focus-visible"),
    ] {
        let answer = app.request(Method::GET, path).await;
        assert_eq!(
            (answer.status, answer.content_type.as_str()),
            (200, content_type),
            "{path}"
        );
        assert!(answer.body.contains(marker), "{path}");
        let policy = answer.headers["content-security-policy"].to_str().unwrap();
        assert!(
            policy.contains("script-src 'self'") && policy.contains("default-src 'none'"),
            "{policy}"
        );
        assert!(!answer.body.contains("secret"), "the page holds no data and no token");
    }
    // The page is public; the data behind it is not.
    assert_eq!(app.request(Method::GET, "/admin/calls").await.status, 401);
}

#[tokio::test]
async fn a_failed_sms_can_be_retried_through_the_admin_api() {
    let app = spawn_app().await;
    app.call(ACME_KEY, "+15005550001", ACME_SF)
        .await
        .assert_twiml(DIAL_ACME_SF);
    let worker = capture_worker(&app, std::time::Duration::from_millis(10));
    let (_keep, mut shutdown) = tokio::sync::watch::channel(false);
    worker.run_batch(&mut shutdown).await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM sms_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sms(&app.pool, id).await.status, "failed");

    let answer = app.request(Method::POST, &format!("/admin/sms/{id}/retry")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let retried: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(
        (retried["status"].as_str(), retried["attempts"].as_i64()),
        (Some("queued"), Some(0))
    );
    let again = app.request(Method::POST, &format!("/admin/sms/{id}/retry")).await;
    assert_eq!(again.status, 409, "only a failed SMS is re-queued: {}", again.body);
    let unknown = app
        .request(Method::POST, "/admin/sms/00000000-0000-0000-0000-000000000000/retry")
        .await;
    unknown.assert_json(404, r#"{"sms":"No SMS with id 00000000-0000-0000-0000-000000000000"}"#);
    app.request(Method::POST, "/admin/sms/not-a-uuid/retry")
        .await
        .assert_json(404, r#"{"sms":"No SMS with id not-a-uuid"}"#);
}
