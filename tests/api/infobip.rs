//! docs/infobip.md: App and Basic authentication, and scenarios with their
//! scripts checked, in Infobip's shapes.

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const APP: &str = "App infobip-api-key-0001";

impl TestApp {
    async fn infobip(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/infobip/voice/ivr/1{path}", self.address));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn welcome() -> Value {
    json!({"name": "Welcome", "description": "The welcome menu", "script": [
        {"say": "Welcome to Acme. Press 1 for a text message.", "language": "en"},
        {"collectInto": "choice", "options": {"maxInputLength": 1, "timeout": 5}},
        {"switch": "${choice}", "case": {"1": [{"request": "http://127.0.0.1:8080/v1/ivr?key=k&from=${to}&to=${from}"}]}},
        {"hangup": "done"}
    ]})
}

#[tokio::test]
async fn app_keys_and_basic_credentials_are_checked_in_infobips_shape() {
    let app = spawn_app().await;
    let unauthorized =
        json!({"requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}}});
    for auth in [
        None,
        Some("App wrong-key".to_owned()),
        Some(basic("acme", "wrong")),
        Some("Bearer x".to_owned()),
        Some("Basic !!".to_owned()),
    ] {
        let (status, body) = app.infobip(Method::GET, "/scenarios", auth.as_deref(), None).await;
        assert_eq!((status, body), (401, unauthorized.clone()), "{auth:?}");
    }
    for auth in [APP.to_owned(), basic("acme", "infobip-demo")] {
        assert_eq!(
            app.infobip(Method::GET, "/scenarios", Some(&auth), None).await,
            (200, json!([])),
            "{auth}"
        );
    }
}

#[tokio::test]
async fn scenarios_are_created_listed_read_updated_and_deleted() {
    let app = spawn_app().await;
    let (status, created) = app
        .infobip(Method::POST, "/scenarios", Some(APP), Some(welcome()))
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(
        (
            created["name"].as_str(),
            created["script"].clone(),
            created["description"].as_str()
        ),
        (Some("Welcome"), welcome()["script"].clone(), Some("The welcome menu"))
    );
    assert!(created["createTime"].is_string() && created["updateTime"].is_string());
    assert_eq!(
        app.infobip(Method::GET, &format!("/scenarios/{id}"), Some(APP), None)
            .await,
        (200, created.clone())
    );
    let (_, listed) = app
        .infobip(Method::GET, "/scenarios?page=0&size=10", Some(APP), None)
        .await;
    assert_eq!(listed, json!([created]));

    let mut changed = welcome();
    changed["name"] = json!("Welcome v2");
    let (status, updated) = app
        .infobip(Method::PUT, &format!("/scenarios/{id}"), Some(APP), Some(changed))
        .await;
    assert_eq!(
        (status, updated["name"].as_str(), updated["createTime"].clone()),
        (200, Some("Welcome v2"), created["createTime"].clone())
    );
    assert_eq!(
        app.infobip(Method::DELETE, &format!("/scenarios/{id}"), Some(APP), None)
            .await
            .0,
        204
    );
    let (status, missing) = app
        .infobip(Method::GET, &format!("/scenarios/{id}"), Some(APP), None)
        .await;
    assert_eq!(
        (
            status,
            missing["requestError"]["serviceException"]["messageId"].as_str()
        ),
        (404, Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn an_unsupported_action_is_a_400_naming_it() {
    let app = spawn_app().await;
    let mut body = welcome();
    body["script"][1] = json!({"capture": "speech"});
    body["script"][2]["case"]["1"][0] = json!({"conference": "room"});
    let (status, refused) = app.infobip(Method::POST, "/scenarios", Some(APP), Some(body)).await;
    assert_eq!(status, 400);
    assert_eq!(
        refused,
        json!({"requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": "Bad request", "validationErrors": {
            "script[1]": ["unsupported action 'capture'"], "script[2].case.1[0]": ["unsupported action 'conference'"]}}}})
    );
    let (status, refused) = app
        .infobip(
            Method::POST,
            "/scenarios",
            Some(APP),
            Some(json!({"name": 5, "script": "say"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["requestError"]["serviceException"]["validationErrors"],
        json!({"name": ["must be a string"], "script": ["must be an array of actions"]})
    );
    assert_eq!(
        app.infobip(Method::GET, "/scenarios", Some(APP), None).await.1,
        json!([]),
        "nothing was created"
    );
}
