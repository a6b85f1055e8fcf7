//! docs/ivr-hook.md §6: loading is idempotent, and a bad document changes nothing.

use ivr_gateway::control::fixtures::Fixtures;
use ivr_gateway::control::fixtures::storage::{ApplyError, apply};
use ivr_gateway::platform::domain::PhoneValidation;

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

async fn post_fixtures(app: &TestApp, content_type: Option<&str>, body: &str) -> Answer {
    let mut request = app
        .client
        .post(format!("{}/admin/fixtures", app.address))
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    Answer {
        status,
        content_type,
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

const APPLIED_EXAMPLE: &str = r#"{"organizations":2,"stores":3,"phones":3,"keys":2,"opt_outs":1,"users":2,"tokens":2,"templates":1,"webhooks":0,"smartflo_ivrs":1,"personas":3}"#;

#[tokio::test]
async fn the_admin_api_loads_toml_and_json_documents() {
    let app = spawn_app_with(TestSettings {
        fixtures: None,
        ..Default::default()
    })
    .await;
    for content_type in [Some("application/toml"), None, Some("text/plain; charset=utf-8")] {
        post_fixtures(&app, content_type, EXAMPLE_FIXTURES)
            .await
            .assert_json(200, APPLIED_EXAMPLE);
    }
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);

    let json = r#"{"organizations":[{"name":"Json Co","api_keys":["json-key"],"stores":[{"name":"J","phones":["+14155551234"],"forwarding":"+14155550111"}]}]}"#;
    post_fixtures(&app, Some("application/json"), json).await.assert_json(
        200,
        r#"{"organizations":1,"stores":1,"phones":1,"keys":1,"opt_outs":0,"users":0,"tokens":0,"templates":0,"webhooks":0,"smartflo_ivrs":0,"personas":0}"#,
    );
    app.call("json-key", CALLER, "+14155551234")
        .await
        .assert_twiml("<Response><Dial>+14155550111</Dial></Response>");
    assert_eq!(counts(&app).await, [3, 3, 4, 4, 1]);
}

#[tokio::test]
async fn the_admin_api_refuses_a_bad_document_whole_saying_where() {
    let app = spawn_app().await;
    let before = counts(&app).await;
    let bad_toml = "[[organizations]]\nname = \"New\"\napi_keys = [\"k2\"]\n[[organizations.stores]]\nname = \"S\"\nphones = [\"+1 415\"]\n";
    post_fixtures(&app, Some("application/toml"), bad_toml).await.assert_json(
        400,
        r#"{"fixtures":"line 6: '+1 415': Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits"}"#,
    );
    let bad_json =
        r#"{"organizations":[{"name":"New","stores":[{"name":"S","phones":["+14155551234"],"forwarding":"0800"}]}]}"#;
    post_fixtures(&app, Some("application/json"), bad_json).await.assert_json(
        400,
        r#"{"fixtures":"organizations[0].stores[0].forwarding: '0800': Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits"}"#,
    );
    post_fixtures(&app, Some("application/json"), "{\"organizations\": [")
        .await
        .assert_json(400, r#"{"fixtures":"line 1: EOF while parsing a list"}"#);
    let unknown_org =
        r#"{"organizations":[{"name":"New"}],"opt_outs":[{"organization":"Ghost","phone":"+14155550199"}]}"#;
    post_fixtures(&app, Some("application/json"), unknown_org)
        .await
        .assert_json(
            400,
            r#"{"fixtures":"opt_outs[0].organization: opt-out for unknown organization 'Ghost'"}"#,
        );
    for empty in ["", " \n"] {
        post_fixtures(&app, Some("application/toml"), empty)
            .await
            .assert_json(400, r#"{"body":"The document is empty"}"#);
    }
    post_fixtures(&app, Some("application/xml"), "<x/>").await.assert_json(
        415,
        r#"{"body":"Unsupported Content-Type 'application/xml': send application/toml or application/json"}"#,
    );
    post_fixtures(&app, Some("application/toml"), &"#".repeat(1024 * 1024 + 1))
        .await
        .assert_json(413, r#"{"body":"Request body over 1048576 bytes"}"#);
    assert_eq!(
        counts(&app).await,
        before,
        "nothing of a refused document may be applied"
    );
}
