//! CONTRACT section 6: loading is idempotent, and a bad document changes nothing.

use ivr_gateway::db::fixtures::{ApplyError, apply};
use ivr_gateway::domain::PhoneValidation;
use ivr_gateway::fixtures::Fixtures;

use crate::helpers::*;

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in ["organizations", "api_keys", "stores", "business_numbers", "opt_outs"] {
        let query = format!("SELECT count(*) FROM {table}");
        counts.push(
            sqlx::query_scalar(sqlx::AssertSqlSafe(query))
                .fetch_one(&app.pool)
                .await
                .unwrap(),
        );
    }
    counts
}

async fn load(app: &TestApp, source: &str) -> Result<(), ApplyError> {
    let fixtures = Fixtures::from_toml(source, PhoneValidation::Possible)?;
    apply(&mut app.pool.acquire().await.unwrap(), &fixtures).await.map(drop)
}

#[tokio::test]
async fn loading_the_same_file_twice_changes_nothing() {
    let app = spawn_app().await;
    let before = counts(&app).await;
    assert_eq!(before, [2, 2, 3, 3, 1]);
    load(&app, EXAMPLE_FIXTURES).await.unwrap();
    assert_eq!(counts(&app).await, before);
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
}

#[tokio::test]
async fn a_reload_updates_stores_in_place_and_moves_numbers() {
    let app = spawn_app().await;
    let changed = EXAMPLE_FIXTURES
        .replace(r#"forwarding = "+14155550100""#, "")
        .replace(
            r#"phones = ["+15105550123"]"#,
            r#"phones = ["+15105550123", "+14151234567"]"#,
        )
        .replace(r#"  phones = ["+14151234567"]"#, "  phones = []");
    load(&app, &changed).await.unwrap();
    assert_eq!(counts(&app).await, [2, 2, 3, 3, 1]);
    // The SF number now belongs to Oakland, which has no forwarding.
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(NO_FORWARDING);
}

#[tokio::test]
async fn a_bad_document_is_refused_whole() {
    let app = spawn_app().await;
    let before = counts(&app).await;
    let bad = r#"
[[organizations]]
name = "New Org"
api_keys = ["new-key"]

  [[organizations.stores]]
  name = "New Store"
  phones = ["+14155551234"]

[[opt_outs]]
organization = "Nobody Inc"
phone = "+14155550199"
"#;
    let error = load(&app, bad).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 11: opt-out for unknown organization 'Nobody Inc'"
    );
    assert_eq!(
        counts(&app).await,
        before,
        "nothing of a refused document may be applied"
    );
    app.call("new-key", CALLER, "+14155551234")
        .await
        .assert_json(403, r#"{"key":"Invalid API Key"}"#);
}

#[tokio::test]
async fn fixture_text_with_sql_and_xml_metacharacters_is_stored_verbatim() {
    let app = spawn_app().await;
    let source = r#"
[[organizations]]
name = "Robert'); DROP TABLE stores;--"
api_keys = ["meta-key"]

  [[organizations.stores]]
  name = "<Hangup/> & Sons"
  phones = ["+14155551234"]
"#;
    load(&app, source).await.unwrap();
    app.call("meta-key", CALLER, "+14155551234")
        .await
        .assert_twiml(NO_FORWARDING);
    let body = sms(&app.pool, app.last_call().await.sms_id.unwrap()).await.body;
    assert_eq!(
        body,
        "Thanks for calling <Hangup/> & Sons! Reply to this message to chat with us."
    );
}
