//! The admin API's directory: what it changes is what the hook does next.

use serde_json::{Value, json};

use crate::helpers::*;

impl TestApp {
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}/admin{path}", self.address));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }
}

use reqwest::Method;

#[tokio::test]
async fn an_organization_is_created_read_renamed_and_deleted() {
    let app = spawn_app_with(TestSettings {
        fixtures: None,
        ..Default::default()
    })
    .await;
    let (status, created) = app
        .admin(
            Method::POST,
            "/organizations",
            Some(json!({"name": "Shop", "welcome_message": "Hi from {store}"})),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        created,
        json!({"id": id, "name": "Shop", "welcome_message": "Hi from {store}", "twilio_signature_required": false,
               "created_at": created["created_at"]})
    );
    assert_eq!(
        app.admin(Method::GET, &format!("/organizations/{id}"), None).await,
        (200, created.clone())
    );
    assert_eq!(
        app.admin(Method::POST, "/organizations", Some(json!({"name": "Shop"})))
            .await,
        (409, json!({"name": "An organization named 'Shop' exists"}))
    );

    let (status, renamed) = app
        .admin(
            Method::PATCH,
            &format!("/organizations/{id}"),
            Some(json!({"name": "Shop & Co"})),
        )
        .await;
    assert_eq!(
        (status, &renamed["name"], &renamed["welcome_message"]),
        (200, &json!("Shop & Co"), &json!("Hi from {store}"))
    );
    let (_, cleared) = app
        .admin(
            Method::PATCH,
            &format!("/organizations/{id}"),
            Some(json!({"welcome_message": null})),
        )
        .await;
    assert_eq!(
        (&cleared["name"], &cleared["welcome_message"]),
        (&json!("Shop & Co"), &Value::Null)
    );
    assert_eq!(
        app.admin(Method::GET, "/organizations", None).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert_eq!(
        app.admin(Method::DELETE, &format!("/organizations/{id}"), None).await,
        (204, Value::Null)
    );
    assert_eq!(
        app.admin(Method::GET, &format!("/organizations/{id}"), None).await,
        (404, json!({"organization": format!("No organization with id {id}")}))
    );
    assert_eq!(
        app.admin(Method::DELETE, "/organizations/x", None).await,
        (404, json!({"organization": "No organization with id x"}))
    );
}

#[tokio::test]
async fn bad_admin_bodies_are_400s_naming_what_is_wrong() {
    let app = spawn_app().await;
    let cases = [
        (json!({"name": " "}), json!({"name": "Must not be empty"})),
        (
            json!({"name": "A", "welcome_message": ""}),
            json!({"welcome_message": "Must not be empty"}),
        ),
        (
            json!({"name": "A\nB", "welcome_message": "x".repeat(1601)}),
            json!({"name": "Must not contain control characters", "welcome_message": "Must be at most 1600 characters"}),
        ),
        (
            json!({"name": 7}),
            json!({"body": "Invalid JSON: invalid type: integer `7`, expected a string at line 1 column 9"}),
        ),
        (
            json!({"nme": "A"}),
            json!({"body": "Invalid JSON: unknown field `nme`, expected one of `name`, `welcome_message`, `twilio_auth_token` at line 1 column 6"}),
        ),
        (json!([{"name": "A"}]), json!({"body": "Expected a JSON object"})),
    ];
    for (body, expected) in cases {
        assert_eq!(
            app.admin(Method::POST, "/organizations", Some(body.clone())).await,
            (400, expected),
            "{body}"
        );
    }
    let acme = app.organization_id("Acme Retail").await;
    let store =
        json!({"name": "New", "phones": ["+14155551000", "415-555"], "forwarding": "0800", "welcome_message": "ok"});
    assert_eq!(
        app.admin(Method::POST, &format!("/organizations/{acme}/stores"), Some(store))
            .await,
        (
            400,
            json!({
                "phones": "'415-555': Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits",
                "forwarding": "Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits",
            })
        )
    );
}

#[tokio::test]
async fn a_created_key_works_once_shown_is_listed_by_prefix_and_stops_when_revoked() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Retail").await;
    let (status, created) = app
        .admin(Method::POST, &format!("/organizations/{acme}/keys"), None)
        .await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(created["prefix"], json!(&key[..4]));
    app.call(&key, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);

    let (_, listed) = app
        .admin(Method::GET, &format!("/organizations/{acme}/keys"), None)
        .await;
    let listed = listed["items"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(
        !Value::Array(listed.clone()).to_string().contains(&key),
        "a listing never shows a key"
    );
    assert_eq!(
        listed[0]["prefix"], "a73d",
        "keys from fixtures are listed by prefix too"
    );

    let key_id = created["id"].as_i64().unwrap();
    let (status, revoked) = app.admin(Method::DELETE, &format!("/keys/{key_id}"), None).await;
    assert_eq!((status, revoked["revoked_at"].is_string()), (200, true));
    app.call(&key, CALLER, ACME_SF)
        .await
        .assert_json(403, r#"{"key":"Invalid API Key"}"#);
    let (_, again) = app.admin(Method::DELETE, &format!("/keys/{key_id}"), None).await;
    assert_eq!(
        again["revoked_at"], revoked["revoked_at"],
        "revoking twice keeps the first time"
    );
    assert_eq!(
        app.admin(Method::DELETE, "/keys/999999", None).await,
        (404, json!({"key": "No key with id 999999"}))
    );
}

#[tokio::test]
async fn stores_forwarding_welcome_and_numbers_steer_the_hook() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Retail").await;
    let body = json!({"name": "Acme Berkeley", "phones": ["+15105550999"], "forwarding": "+15105550100", "welcome_message": "Berkeley says hi"});
    let (status, store) = app
        .admin(Method::POST, &format!("/organizations/{acme}/stores"), Some(body))
        .await;
    assert_eq!(status, 201);
    let id = store["id"].as_i64().unwrap();
    assert_eq!(
        store,
        json!({"id": id, "organization_id": acme, "name": "Acme Berkeley", "phones": ["+15105550999"],
               "forwarding": "+15105550100", "welcome_message": "Berkeley says hi", "created_at": store["created_at"]})
    );
    app.call(ACME_KEY, CALLER, "+15105550999")
        .await
        .assert_twiml("<Response><Dial>+15105550100</Dial></Response>");
    assert_eq!(
        sms(&app.pool, app.last_call().await.sms_id.unwrap()).await.body,
        "Berkeley says hi"
    );

    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/stores/{id}"),
            Some(json!({"forwarding": null})),
        )
        .await;
    assert_eq!(status, 200);
    app.call(ACME_KEY, "+14155550123", "+15105550999")
        .await
        .assert_twiml(NO_FORWARDING);

    let (status, store) = app
        .admin(Method::PUT, &format!("/stores/{id}/phones/+15105550998"), None)
        .await;
    assert_eq!(
        (status, &store["phones"]),
        (200, &json!(["+15105550998", "+15105550999"]))
    );
    assert_eq!(
        app.admin(Method::PUT, &format!("/stores/{id}/phones/%2B14151234567"), None)
            .await
            .0,
        409,
        "Acme SF's number stays Acme SF's"
    );
    assert_eq!(
        app.admin(Method::DELETE, &format!("/stores/{id}/phones/+15105550999"), None)
            .await
            .0,
        204
    );
    app.call(ACME_KEY, CALLER, "+15105550999")
        .await
        .assert_twiml(NOT_LINKED);
    assert_eq!(
        app.admin(Method::DELETE, &format!("/stores/{id}/phones/+15105550999"), None)
            .await,
        (
            404,
            json!({"phone": format!("+15105550999 is not a number of store {id}")})
        )
    );
    assert_eq!(
        app.admin(
            Method::POST,
            &format!("/organizations/{acme}/stores"),
            Some(json!({"name": "Acme Berkeley"}))
        )
        .await,
        (
            409,
            json!({"name": "This organization has a store named 'Acme Berkeley'"})
        )
    );
    assert_eq!(app.admin(Method::DELETE, &format!("/stores/{id}"), None).await.0, 204);
    app.call(ACME_KEY, CALLER, "+15105550998")
        .await
        .assert_twiml(NOT_LINKED);
    let (_, stores) = app
        .admin(Method::GET, &format!("/organizations/{acme}/stores"), None)
        .await;
    let names: Vec<&str> = stores["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Acme Oakland", "Acme San Francisco"]);
}

#[tokio::test]
async fn opt_outs_added_and_removed_through_the_api_gate_the_welcome_sms() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Retail").await;
    let (status, opt_out) = app
        .admin(
            Method::PUT,
            &format!("/organizations/{acme}/opt-outs/+14151234560"),
            None,
        )
        .await;
    assert_eq!((status, &opt_out["phone"]), (200, &json!(CALLER)));
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    assert_eq!(app.last_call().await.sms_skipped.as_deref(), Some("opted_out"));
    let (_, listed) = app
        .admin(Method::GET, &format!("/organizations/{acme}/opt-outs"), None)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    assert_eq!(
        app.admin(
            Method::DELETE,
            &format!("/organizations/{acme}/opt-outs/+14151234560"),
            None
        )
        .await
        .0,
        204
    );
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    assert!(app.last_call().await.sms_id.is_some());
    assert_eq!(
        app.admin(Method::PUT, &format!("/organizations/{acme}/opt-outs/0800"), None)
            .await,
        (
            400,
            json!({"phone": "Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits"})
        )
    );
    assert_eq!(
        app.admin(Method::PUT, "/organizations/999999/opt-outs/+14151234560", None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_change_made_through_one_replica_reaches_the_other_replicas_calls() {
    let app = spawn_app().await;
    let other = app.replica();
    other.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    let store = app.store_id("Acme San Francisco").await;
    let (status, _) = app
        .admin(
            Method::PATCH,
            &format!("/stores/{store}"),
            Some(json!({"forwarding": null})),
        )
        .await;
    assert_eq!(status, 200);
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(NO_FORWARDING);
    let seen = wait_for(std::time::Duration::from_secs(5), || async {
        other.call(ACME_KEY, CALLER, ACME_SF).await.body == NO_FORWARDING
    })
    .await;
    assert!(seen, "the other replica still dials after 5 s");
}
