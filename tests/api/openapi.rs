//! `/openapi.json` and the docs page, generated from the code.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn the_openapi_document_describes_every_operation() {
    let app = spawn_app().await;
    let answer = app.request(reqwest::Method::GET, "/openapi.json").await;
    assert_eq!((answer.status, answer.content_type.as_str()), (200, "application/json"));
    let document: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut operations: Vec<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /admin/keys/{id}",
            "DELETE /admin/organizations/{id}",
            "DELETE /admin/organizations/{id}/opt-outs/{phone}",
            "DELETE /admin/personas/{number}",
            "DELETE /admin/stores/{id}",
            "DELETE /admin/stores/{id}/phones/{phone}",
            "DELETE /infobip/voice/ivr/1/scenarios/{id}",
            "DELETE /smartflo/v1/ivr/{id}",
            "GET /",
            "GET /admin/calls",
            "GET /admin/clock",
            "GET /admin/deliveries",
            "GET /admin/events",
            "GET /admin/infobip/calls",
            "GET /admin/infobip/launches",
            "GET /admin/infobip/reports",
            "GET /admin/organizations",
            "GET /admin/organizations/{id}",
            "GET /admin/organizations/{id}/keys",
            "GET /admin/organizations/{id}/opt-outs",
            "GET /admin/organizations/{id}/stores",
            "GET /admin/personas",
            "GET /admin/simulations",
            "GET /admin/simulations/{id}",
            "GET /admin/smartflo/ivrs",
            "GET /admin/sms",
            "GET /admin/stores/{id}",
            "GET /admin/threads",
            "GET /admin/threads/{id}",
            "GET /api/customers/{customerId}/profile",
            "GET /api/get-customer-thread-details",
            "GET /api/get-whatsapp-templates",
            "GET /api/webhooks/",
            "GET /api/webhooks/{webHookId}",
            "GET /dashboard/app.css",
            "GET /dashboard/app.js",
            "GET /healthz",
            "GET /infobip/voice/1/reports",
            "GET /infobip/voice/ivr/1/scenarios",
            "GET /infobip/voice/ivr/1/scenarios/{id}",
            "GET /metrics",
            "GET /readyz",
            "GET /smartflo/numbers/{did}/voice",
            "GET /smartflo/v1/ivr/{id}",
            "GET /smartflo/v1/ivrs",
            "GET /v1/ivr",
            "PATCH /admin/organizations/{id}",
            "PATCH /admin/stores/{id}",
            "POST /admin/clock/advance",
            "POST /admin/customer-messages",
            "POST /admin/deliveries/{id}/redeliver",
            "POST /admin/fixtures",
            "POST /admin/organizations",
            "POST /admin/organizations/{id}/keys",
            "POST /admin/organizations/{id}/stores",
            "POST /admin/reset",
            "POST /admin/simulations",
            "POST /admin/sms/{id}/retry",
            "POST /admin/threads/{id}/transfer",
            "POST /api/send-message-to-customer-thread",
            "POST /api/update-hook-url",
            "POST /api/update-thread-status",
            "POST /api/webhooks/",
            "POST /api/webhooks/{webHookId}/delete",
            "POST /api/webhooks/{webHookId}/update",
            "POST /infobip/voice/ivr/1/messages",
            "POST /infobip/voice/ivr/1/scenarios",
            "POST /smartflo/numbers/{did}/voice",
            "POST /smartflo/v1/auth/login",
            "POST /smartflo/v1/ivr",
            "POST /v1/ivr",
            "PUT /admin/clock",
            "PUT /admin/organizations/{id}/opt-outs/{phone}",
            "PUT /admin/personas/{number}",
            "PUT /admin/stores/{id}/phones/{phone}",
            "PUT /infobip/voice/ivr/1/scenarios/{id}",
            "PUT /smartflo/v1/ivr/{id}",
        ]
    );
    let hook = &document["paths"]["/v1/ivr"]["get"]["responses"];
    assert!(hook["200"]["content"]["text/xml; charset=utf-8"].is_object(), "{hook}");
    assert_eq!(
        document["paths"]["/admin/calls"]["get"]["security"][0]["admin_token"],
        serde_json::json!([])
    );
    assert_eq!(
        document["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );
}

#[tokio::test]
async fn the_docs_page_is_served_without_the_internet() {
    let app = spawn_app().await;
    let page = app.request(reqwest::Method::GET, "/docs/").await;
    assert_eq!((page.status, page.content_type.as_str()), (200, "text/html"));
    assert!(page.body.contains("swagger-ui"), "{}", page.body);
    let script = app.request(reqwest::Method::GET, "/docs/swagger-ui-bundle.js").await;
    assert_eq!(script.status, 200);
    assert!(
        script.body.len() > 100_000,
        "the bundled Swagger UI is served from the binary"
    );
}

#[tokio::test]
async fn every_resource_answers_other_methods_with_405_and_allow() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::POST, "/healthz", "GET"),
        (reqwest::Method::TRACE, "/readyz", "GET"),
        (reqwest::Method::DELETE, "/admin/calls", "GET"),
        (reqwest::Method::PUT, "/admin/fixtures", "POST"),
        (reqwest::Method::PATCH, "/v1/ivr", "GET, POST"),
    ];
    for (method, path, allow) in cases {
        let answer = app.request(method.clone(), path).await;
        let body = format!(
            r#"{{"method":"Method {method} is not allowed: use {}"}}"#,
            allow.replace(", ", " or ")
        );
        answer.assert_json(405, &body);
        assert_eq!(answer.headers["allow"], allow, "{method} {path}");
    }
}

#[tokio::test]
async fn every_admin_operation_in_the_document_refuses_a_missing_or_wrong_token() {
    let app = spawn_app_with(TestSettings {
        admin_token: Some("right-token"),
        ..Default::default()
    })
    .await;
    let document: Value = serde_json::from_str(&app.request(reqwest::Method::GET, "/openapi.json").await.body).unwrap();
    let mut checked = 0;
    for (path, methods) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/admin") {
            continue;
        }
        let concrete = path.replace("{id}", "1").replace("{phone}", "%2B14151234567");
        for method in methods.as_object().unwrap().keys() {
            assert_eq!(
                methods[method]["security"][0]["admin_token"],
                serde_json::json!([]),
                "{method} {path}"
            );
            let method: reqwest::Method = method.to_uppercase().parse().unwrap();
            for token in [None, Some("Bearer wrong-token")] {
                let mut request = app.client.request(method.clone(), format!("{}{concrete}", app.address));
                if let Some(token) = token {
                    request = request.header("authorization", token);
                }
                let response = request.send().await.unwrap();
                assert_eq!(response.status(), 401, "{method} {path} with {token:?}");
                assert_eq!(
                    response.text().await.unwrap(),
                    r#"{"authorization":"Missing or invalid bearer token"}"#
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 43, "every admin operation was checked");
}

#[tokio::test]
async fn under_admin_the_token_is_checked_before_the_method() {
    let app = spawn_app_with(TestSettings {
        admin_token: Some("t0ken"),
        ..Default::default()
    })
    .await;
    app.request(reqwest::Method::DELETE, "/admin/calls")
        .await
        .assert_json(401, r#"{"authorization":"Missing or invalid bearer token"}"#);
    let response = app
        .client
        .delete(format!("{}/admin/calls", app.address))
        .bearer_auth("t0ken")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            response.status().as_u16(),
            response.headers()["allow"].to_str().unwrap()
        ),
        (405, "GET")
    );
}
