//! docs/ivr-hook.md §7: the inspection API, exactly.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

async fn get_json(app: &TestApp, path: &str) -> Value {
    let answer = app.request(reqwest::Method::GET, path).await;
    assert_eq!(
        (answer.status, answer.content_type.as_str()),
        (200, "application/json"),
        "{}",
        answer.body
    );
    serde_json::from_str(&answer.body).unwrap()
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn calls_are_listed_newest_first_with_every_field() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    app.call(ACME_KEY, CALLER, "+14155550000").await;
    app.get(&format!(
        "key={ACME_KEY}&from=%2B14151234560&to=%2B15105550123&context=OPT_IN"
    ))
    .await;
    let page = get_json(&app, "/admin/calls").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(page["next_cursor"], Value::Null);
    let outcomes: Vec<&str> = items.iter().map(|item| item["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["no_forwarding", "not_linked", "dial"]);

    let newest = &items[0];
    let sms_id = app.last_call().await.sms_id.unwrap();
    let expected = serde_json::json!({
        "id": newest["id"],
        "method": "GET",
        "from": CALLER,
        "to": ACME_OAKLAND,
        "context": "OPT_IN",
        "outcome": "no_forwarding",
        "status": 200,
        "sms_id": sms_id.to_string(),
        "sms_skipped": null,
        "organization": "Acme Retail",
        "store": "Acme Oakland",
        "created_at": newest["created_at"],
    });
    assert_eq!(newest, &expected);
    assert!(chrono::DateTime::parse_from_rfc3339(newest["created_at"].as_str().unwrap()).is_ok());
    assert_eq!(items[1]["sms_skipped"], Value::Null);
    assert!(items[2]["sms_id"].as_str().is_some());
}

#[tokio::test]
async fn sms_are_listed_with_every_field_and_filtered() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    app.call(ACME_KEY, "+14155550123", ACME_OAKLAND).await;
    let page = get_json(&app, &format!("/admin/sms?to={}", encode(CALLER))).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let sms = &items[0];
    let expected = serde_json::json!({
        "id": sms["id"],
        "from": ACME_SF,
        "to": CALLER,
        "body": "Hi from Acme SF! Reply here to chat.",
        "context": null,
        "status": "queued",
        "attempts": 0,
        "last_error": null,
        "provider_message_id": null,
        "store": "Acme San Francisco",
        "created_at": sms["created_at"],
        "delivered_at": null,
    });
    assert_eq!(sms, &expected);
    assert_eq!(
        get_json(&app, "/admin/sms?status=delivered").await["items"],
        serde_json::json!([])
    );
    assert_eq!(
        get_json(&app, "/admin/sms?status=queued").await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        get_json(&app, &format!("/admin/sms?from={}", encode(ACME_OAKLAND))).await["items"][0]["to"],
        "+14155550123"
    );
}

#[tokio::test]
async fn call_filters_combine() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    app.call("wrong", CALLER, ACME_SF).await;
    app.call(ACME_KEY, "+14155550123", "+14155550000").await;
    assert_eq!(
        get_json(&app, "/admin/calls?outcome=invalid_key").await["items"][0]["status"],
        403
    );
    let mine = get_json(&app, &format!("/admin/calls?from={}&outcome=dial", encode(CALLER))).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let future = get_json(&app, "/admin/calls?since=2999-01-01T00:00:00Z").await;
    assert_eq!(future["items"], serde_json::json!([]));
    let past = get_json(&app, "/admin/calls?since=2000-01-01T00:00:00%2B02:00&limit=2").await;
    assert_eq!(past["items"].as_array().unwrap().len(), 2);
    assert!(past["next_cursor"].is_string());
}

#[tokio::test]
async fn bad_filters_are_400s_that_say_what_is_wrong() {
    let app = spawn_app().await;
    let cases = [
        (
            "/admin/calls?limit=0",
            r#"{"limit":"Must be a whole number from 1 to 500"}"#,
        ),
        (
            "/admin/calls?limit=ten",
            r#"{"limit":"Must be a whole number from 1 to 500"}"#,
        ),
        (
            "/admin/calls?limit=501",
            r#"{"limit":"Must be a whole number from 1 to 500"}"#,
        ),
        (
            "/admin/calls?outcome=ok",
            r#"{"outcome":"Must be one of: dial, no_forwarding, not_linked, invalid_key, invalid_request, rate_limited, invalid_signature"}"#,
        ),
        (
            "/admin/sms?status=sent",
            r#"{"status":"Must be one of: queued, delivered, failed"}"#,
        ),
        (
            "/admin/calls?since=yesterday",
            r#"{"since":"Must be an RFC 3339 time, e.g. 2026-11-21T09:30:00Z"}"#,
        ),
        (
            "/admin/calls?cursor=abc",
            r#"{"cursor":"Not a cursor this listing returned"}"#,
        ),
        (
            "/admin/sms?cursor=42",
            r#"{"cursor":"Not a cursor this listing returned"}"#,
        ),
        (
            "/admin/sms?wait=2m",
            r#"{"wait":"Must be a duration of at most 60s, e.g. 5s or 500ms"}"#,
        ),
        (
            "/admin/sms?outcome=dial",
            r#"{"query":"Unknown parameter 'outcome': use from, to, status, since, limit, cursor or wait"}"#,
        ),
        (
            "/admin/calls?limit=-1&since=x",
            r#"{"limit":"Must be a whole number from 1 to 500","since":"Must be an RFC 3339 time, e.g. 2026-11-21T09:30:00Z"}"#,
        ),
    ];
    for (path, body) in cases {
        app.request(reqwest::Method::GET, path).await.assert_json(400, body);
    }
}

#[tokio::test]
async fn pages_follow_each_other_exactly_while_calls_keep_arriving() {
    let app = spawn_app().await;
    for n in 0..25 {
        app.call(ACME_KEY, &format!("+1415555{n:04}"), "+14155550000").await;
    }
    let all = ids(&get_json(&app, "/admin/calls?limit=500").await);
    let mut seen = Vec::new();
    let mut path = "/admin/calls?limit=10".to_owned();
    loop {
        let page = get_json(&app, &path).await;
        seen.extend(ids(&page));
        // New calls land between page reads; they are newer than the cursor.
        for n in 0..3 {
            app.call(ACME_KEY, &format!("+1415666{n:04}"), "+14155550000").await;
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/calls?limit=10&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, all, "every call once, in order, none of the late arrivals");
}

#[tokio::test]
async fn sms_pages_cover_the_outbox_once() {
    let app = spawn_app().await;
    for n in 0..7 {
        app.call(ACME_KEY, &format!("+1415555{n:04}"), ACME_SF).await;
    }
    let mut seen = std::collections::HashSet::new();
    let mut path = "/admin/sms?limit=3".to_owned();
    loop {
        let page = get_json(&app, &path).await;
        for item in page["items"].as_array().unwrap() {
            assert!(seen.insert(item["id"].as_str().unwrap().to_owned()), "listed twice");
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/admin/sms?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
}

#[tokio::test]
async fn wait_answers_as_soon_as_a_matching_sms_is_queued() {
    let app = spawn_app().await;
    let waiting = tokio::spawn({
        let client = app.client.clone();
        let url = format!("{}/admin/sms?to={}&wait=10s", app.address, encode(CALLER));
        async move {
            let body = client.get(url).send().await.unwrap().text().await.unwrap();
            (Instant::now(), body)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    let queued = Instant::now();
    let (answered, body) = waiting.await.unwrap();
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["items"][0]["to"], CALLER);
    let latency = answered.saturating_duration_since(queued);
    assert!(
        latency < Duration::from_millis(100),
        "answered {latency:?} after the SMS was queued"
    );
}

#[tokio::test]
async fn wait_ends_empty_when_nothing_matches() {
    let app = spawn_app().await;
    let started = Instant::now();
    let page = get_json(&app, "/admin/sms?to=%2B14150000000&wait=300ms").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(page["items"], serde_json::json!([]));
}

#[tokio::test]
async fn reset_empties_the_journal_and_outbox_but_keeps_the_directory() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    let answer = app.request(reqwest::Method::POST, "/admin/reset").await;
    answer.assert_json(200, r#"{"status":"reset"}"#);
    assert_eq!(get_json(&app, "/admin/calls").await["items"], serde_json::json!([]));
    assert_eq!(get_json(&app, "/admin/sms").await["items"], serde_json::json!([]));
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    assert_eq!(app.sms_count().await, 1, "the cool-down went with the outbox");
    let wrong_method = app.request(reqwest::Method::GET, "/admin/reset").await;
    wrong_method.assert_json(405, r#"{"method":"Method GET is not allowed: use POST"}"#);
    assert_eq!(wrong_method.headers["allow"], "POST");
}

#[tokio::test]
async fn with_a_token_every_admin_route_needs_it() {
    let app = spawn_app_with(TestSettings {
        admin_token: Some("adm1n-t0ken"),
        ..Default::default()
    })
    .await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/calls"),
        (reqwest::Method::GET, "/admin/sms"),
        (reqwest::Method::POST, "/admin/reset"),
    ] {
        for header in [
            None,
            Some("Bearer wrong"),
            Some("adm1n-t0ken"),
            Some("Basic adm1n-t0ken"),
        ] {
            let mut request = app.client.request(method.clone(), format!("{}{path}", app.address));
            if let Some(header) = header {
                request = request.header("authorization", header);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {header:?}");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            assert_eq!(
                response.text().await.unwrap(),
                r#"{"authorization":"Missing or invalid bearer token"}"#
            );
        }
        let response = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .header("authorization", "Bearer adm1n-t0ken")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method} {path}");
    }
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
}

#[tokio::test]
async fn every_outcome_is_journaled_filterable_and_in_the_documented_pattern() {
    use ivr_gateway::surfaces::instaply_ivr::journal::Outcome;
    let app = spawn_app().await;
    let pattern = documented_pattern(&app, "/admin/calls", "outcome").await;
    assert_eq!(pattern, format!("^({})?$", Outcome::NAMES.join("|")));
    for outcome in Outcome::ALL {
        // The journal's CHECK constraint takes it…
        sqlx::query("INSERT INTO calls (method, outcome, http_status) VALUES ('GET', $1, $2)")
            .bind(outcome.as_str())
            .bind(outcome.http_status() as i16)
            .execute(&app.pool)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", outcome.as_str()));
        // …and the filter finds it.
        let page = get_json(&app, &format!("/admin/calls?outcome={}", outcome.as_str())).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", outcome.as_str());
        assert_eq!(items[0]["outcome"], outcome.as_str());
    }
    let refused = sqlx::query("INSERT INTO calls (method, outcome, http_status) VALUES ('GET', 'made_up', 200)")
        .execute(&app.pool)
        .await;
    assert!(
        refused.is_err(),
        "the CHECK constraint refuses an outcome outside the list"
    );
}

#[tokio::test]
async fn every_sms_status_is_stored_filterable_and_in_the_documented_pattern() {
    use ivr_gateway::surfaces::instaply_ivr::sms::queue::SmsStatus;
    let app = spawn_app().await;
    let pattern = documented_pattern(&app, "/admin/sms", "status").await;
    assert_eq!(pattern, format!("^({})?$", SmsStatus::NAMES.join("|")));
    for status in SmsStatus::ALL {
        sqlx::query(
            "INSERT INTO sms_outbox (id, organization_id, store_id, from_number, to_number, body, status)
             VALUES (gen_random_uuid(), 1, 1, '+14151234567', '+14151234560', 'Hi', $1)",
        )
        .bind(status.as_str())
        .execute(&app.pool)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", status.as_str()));
        let page = get_json(&app, &format!("/admin/sms?status={}", status.as_str())).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", status.as_str());
        assert_eq!(items[0]["status"], status.as_str());
    }
    let refused = sqlx::query(
        "INSERT INTO sms_outbox (id, organization_id, store_id, from_number, to_number, body, status)
         VALUES (gen_random_uuid(), 1, 1, '+14151234567', '+14151234560', 'Hi', 'sent')",
    )
    .execute(&app.pool)
    .await;
    assert!(
        refused.is_err(),
        "the CHECK constraint refuses a status outside the list"
    );
}

/// The OpenAPI pattern of query parameter `name` of `GET path`.
async fn documented_pattern(app: &TestApp, path: &str, name: &str) -> String {
    let document = get_json(app, "/openapi.json").await;
    document["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == name)
        .and_then(|parameter| parameter["schema"]["pattern"].as_str())
        .unwrap_or_else(|| panic!("no pattern for {name} of {path}"))
        .to_owned()
}

#[tokio::test]
async fn an_empty_filter_is_no_filter_but_an_empty_time_or_limit_is_refused() {
    let app = spawn_app().await;
    let answer = app
        .request(reqwest::Method::GET, "/admin/sms?from=&status=&wait=")
        .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, r#"{"items":[],"next_cursor":null}"#)
    );
    app.request(reqwest::Method::GET, "/admin/sms?since=")
        .await
        .assert_json(
            400,
            r#"{"since":"Must be an RFC 3339 time, e.g. 2026-11-21T09:30:00Z"}"#,
        );
    app.request(reqwest::Method::GET, "/admin/calls?limit=")
        .await
        .assert_json(400, r#"{"limit":"Must be a whole number from 1 to 500"}"#);
}
