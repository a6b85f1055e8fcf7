//! docs/ivr-hook.md §3: each outcome's exact bytes, and its journal row.

use std::time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn the_public_page_example_request_dials_the_forwarding_number() {
    let app = spawn_app().await;
    let answer = app
        .get("key=a73d5034210f702515128ac61193cd21&from=%2B14151234560&to=%2B14151234567")
        .await;
    answer.assert_twiml(DIAL_ACME_SF);
    assert_eq!(answer.body, "<Response><Dial>+14155550100</Dial></Response>");

    let call = app.last_call().await;
    assert_eq!(
        (call.method.as_str(), call.outcome.as_str(), call.http_status),
        ("GET", "dial", 200)
    );
    assert_eq!(
        (call.from_number.as_deref(), call.to_number.as_deref()),
        (Some(CALLER), Some(ACME_SF))
    );
    assert_eq!(call.store_id, Some(app.store_id("Acme San Francisco").await));
    assert_eq!(call.organization_id, Some(app.organization_id("Acme Retail").await));
    assert!(call.sms_id.is_some() && call.sms_skipped.is_none(), "{call:?}");
}

#[tokio::test]
async fn a_store_without_forwarding_answers_the_bilingual_say() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_OAKLAND)
        .await
        .assert_twiml(NO_FORWARDING);
    let call = app.last_call().await;
    assert_eq!(
        (call.outcome.as_str(), call.store_id),
        ("no_forwarding", Some(app.store_id("Acme Oakland").await))
    );
    assert!(
        call.sms_id.is_some(),
        "a found store queues the welcome SMS even without forwarding"
    );
}

#[tokio::test]
async fn an_unknown_business_number_is_not_linked_and_queues_nothing() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, "+14155550000")
        .await
        .assert_twiml(NOT_LINKED);
    let call = app.last_call().await;
    assert_eq!(
        (call.outcome.as_str(), call.http_status, call.store_id),
        ("not_linked", 200, None)
    );
    assert_eq!((call.sms_id, call.sms_skipped), (None, None));
    assert_eq!(app.sms_count().await, 0);
}

#[tokio::test]
async fn an_unknown_key_is_403_and_journaled_without_the_key() {
    let app = spawn_app().await;
    let secret = "not-a-key-but-must-not-be-stored-7f3a";
    app.call(secret, CALLER, ACME_SF)
        .await
        .assert_json(403, r#"{"key":"Invalid API Key"}"#);
    let call = app.last_call().await;
    assert_eq!(
        (call.outcome.as_str(), call.http_status, call.organization_id),
        ("invalid_key", 403, None)
    );
    let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM calls t")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!dump.contains(secret), "the journal holds the key: {dump}");
}

#[tokio::test]
async fn a_key_revoked_behind_the_gateways_back_is_403_moments_later() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    // psql, not the admin API: the cached key is dropped on the database's notification.
    sqlx::query("UPDATE api_keys SET revoked_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let refused = wait_for(Duration::from_secs(5), || async {
        app.call(ACME_KEY, CALLER, ACME_SF).await.status == 403
    })
    .await;
    assert!(refused, "the revoked key was still accepted after 5 s");
    app.call(ACME_KEY, CALLER, ACME_SF)
        .await
        .assert_json(403, r#"{"key":"Invalid API Key"}"#);
}

#[tokio::test]
async fn keys_are_stored_as_sha256_digests_only() {
    let app = spawn_app().await;
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key_hash FROM api_keys")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(hashes.len(), 2);
    let expected = {
        use sha2::Digest;
        sha2::Sha256::digest(ACME_KEY.as_bytes()).to_vec()
    };
    assert!(hashes.contains(&expected));
    let dump: String = sqlx::query_scalar("SELECT string_agg(t::text, ' ') FROM api_keys t")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!dump.contains(ACME_KEY));
}

#[tokio::test]
async fn forwarding_text_from_the_database_is_escaped_as_xml() {
    // The schema only admits E.164 forwarding numbers, so nothing from a
    // store can inject markup; this checks the database refuses it.
    let app = spawn_app().await;
    let refused = sqlx::query("UPDATE stores SET forwarding_number = '<Hangup/>'")
        .execute(&app.pool)
        .await;
    assert!(refused.is_err(), "a non-E.164 forwarding number must not be storable");
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let app = spawn_app().await;
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
        reqwest::Method::OPTIONS,
    ] {
        let answer = app.request(method.clone(), "/v1/ivr").await;
        answer.assert_json(
            405,
            &format!(r#"{{"method":"Method {method} is not allowed: use GET or POST"}}"#),
        );
        assert_eq!(answer.headers["allow"], "GET, POST");
    }
}

#[tokio::test]
async fn unknown_paths_answer_json_404() {
    let app = spawn_app().await;
    app.request(reqwest::Method::GET, "/v2/ivr")
        .await
        .assert_json(404, r#"{"path":"No route for /v2/ivr"}"#);
}

#[tokio::test]
async fn a_key_over_its_rate_limit_gets_429_with_retry_after_and_is_journaled() {
    let rate_limit = ivr_gateway::platform::rate_limit::RateLimit {
        per_second: 0.5,
        burst: 3,
    };
    let app = spawn_app_with(TestSettings {
        rate_limit,
        ..Default::default()
    })
    .await;
    for _ in 0..3 {
        app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    }
    let refused = app.call(ACME_KEY, CALLER, ACME_SF).await;
    refused.assert_json(
        429,
        r#"{"key":"Rate limit exceeded: at most 0.5 requests per second per key"}"#,
    );
    let retry_after: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "one token every 2 s: {retry_after}");
    let call = app.last_call().await;
    assert_eq!((call.outcome.as_str(), call.http_status), ("rate_limited", 429));
    assert_eq!(call.organization_id, Some(app.organization_id("Acme Retail").await));

    // Another tenant's key has its own bucket; an unknown key is still a 403.
    app.call(GLOBEX_KEY, CALLER, GLOBEX_OPERA)
        .await
        .assert_twiml("<Response><Dial>+33142685301</Dial></Response>");
    app.call("unknown", CALLER, ACME_SF)
        .await
        .assert_json(403, r#"{"key":"Invalid API Key"}"#);
}
