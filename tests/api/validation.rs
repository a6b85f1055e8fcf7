//! docs/ivr-hook.md §2: every field checked, all errors reported together,
//! one exact sentence each; ugly input never reaches past a 400.

use std::time::Duration;

use ivr_gateway::platform::domain::PhoneValidation;
use ivr_gateway::surfaces::instaply_ivr::hook::HookRules;

use crate::helpers::*;

const SHAPE: &str = "Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits";
const PLUS_HINT: &str = "Not an E.164 phone number: '+' must be URL-encoded as %2B in a query string";
const MALFORMED_KEY: &str = "Not an API key: expected 1 to 128 printable ASCII characters";
const BAD_CONTEXT: &str = "Not a valid context: at most 64 characters of A-Z a-z 0-9 _ - . :";

fn body(errors: &[(&str, &str)]) -> String {
    let fields: Vec<String> = errors
        .iter()
        .map(|(f, m)| format!("{}:{}", serde_json::json!(f), serde_json::json!(m)))
        .collect();
    format!("{{{}}}", fields.join(","))
}

#[tokio::test]
async fn the_contract_example_unencoded_plus_and_missing_to() {
    let app = spawn_app().await;
    app.get(&format!("key={ACME_KEY}&from=+14151234560")).await.assert_json(
        400,
        r#"{"to":"Missing parameter","from":"Not an E.164 phone number: '+' must be URL-encoded as %2B in a query string"}"#,
    );
}

#[tokio::test]
async fn missing_and_empty_fields_are_all_reported_at_once() {
    let app = spawn_app().await;
    let all_missing = body(&[
        ("key", "Missing parameter"),
        ("to", "Missing parameter"),
        ("from", "Missing parameter"),
    ]);
    app.get("").await.assert_json(400, &all_missing);
    app.get("key=&from=&to=&context=").await.assert_json(400, &all_missing);
    app.request(reqwest::Method::GET, "/v1/ivr")
        .await
        .assert_json(400, &all_missing);
}

#[tokio::test]
async fn a_missing_key_is_400_never_403() {
    let app = spawn_app().await;
    app.get("from=%2B14151234560&to=%2B14151234567")
        .await
        .assert_json(400, &body(&[("key", "Missing parameter")]));
}

#[tokio::test]
async fn malformed_numbers_get_the_shape_sentence() {
    let app = spawn_app().await;
    let cases = [
        "+1 415-123-4567",                                           // formatted
        "(415) 123-4567",                                            // national format
        "4151234567",                                                // no plus
        "0014151234567",                                             // international prefix
        "+014151234567",                                             // leading zero
        "+1415123456789012",                                         // 16 digits
        "+1",                                                        // too short
        "++14151234567",                                             // double plus
        "+1415CALLNOW",                                              // letters
        "\u{ff0b}14151234567",                                       // fullwidth plus
        "+\u{0661}\u{0664}\u{0661}\u{0665}\u{0661}\u{0662}\u{0663}", // Arabic-Indic digits
        "+\u{ff11}4151234567",                                       // fullwidth digit
        "+14151234567\0",                                            // NUL
        "+1415'; DROP TABLE calls;--",
        "<Dial>+14155550100</Dial>",
        " 1415 123", // a space, but not just digits after it
    ];
    for from in cases {
        let answer = app.call(ACME_KEY, from, ACME_SF).await;
        answer.assert_json(400, &body(&[("from", SHAPE)]));
    }
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM calls WHERE outcome = 'invalid_request'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        calls,
        cases.len() as i64,
        "every rejected request is journaled, even one holding a NUL"
    );
}

#[tokio::test]
async fn an_unencoded_plus_in_either_number_gets_the_hint() {
    let app = spawn_app().await;
    app.get(&format!("key={ACME_KEY}&from=+14151234560&to=+14151234567"))
        .await
        .assert_json(400, &body(&[("to", PLUS_HINT), ("from", PLUS_HINT)]));
}

#[tokio::test]
async fn possible_level_explains_impossible_numbers() {
    let app = spawn_app().await;
    let cases = [
        (
            "+999123456",
            "Not a possible phone number: unknown country calling code",
        ),
        ("+1415123", "Not a possible phone number: too short for country code +1"),
        (
            "+141512345678",
            "Not a possible phone number: too long for country code +1",
        ),
    ];
    for (to, message) in cases {
        app.call(ACME_KEY, CALLER, to)
            .await
            .assert_json(400, &body(&[("to", message)]));
    }
}

#[tokio::test]
async fn valid_level_refuses_the_public_examples_and_format_level_takes_any_shape() {
    let strict = HookRules {
        phone_validation: PhoneValidation::Valid,
        welcome_cooldown: Duration::ZERO,
    };
    let app = spawn_app_with(TestSettings {
        rules: strict,
        ..Default::default()
    })
    .await;
    let not_valid = "Not a valid phone number: not in any assigned range for its country";
    app.call(ACME_KEY, CALLER, ACME_SF)
        .await
        .assert_json(400, &body(&[("to", not_valid), ("from", not_valid)]));
    app.call(GLOBEX_KEY, "+16502530000", GLOBEX_OPERA)
        .await
        .assert_twiml("<Response><Dial>+33142685301</Dial></Response>");

    let lax = HookRules {
        phone_validation: PhoneValidation::Format,
        welcome_cooldown: Duration::ZERO,
    };
    let app = spawn_app_with(TestSettings {
        rules: lax,
        ..Default::default()
    })
    .await;
    app.call(ACME_KEY, "+999123456", "+999654321")
        .await
        .assert_twiml(NOT_LINKED);
}

#[tokio::test]
async fn keys_must_be_1_to_128_printable_ascii_characters() {
    let app = spawn_app().await;
    for key in [
        "k".repeat(129),
        "clé".to_owned(),
        "key\0".to_owned(),
        "line\nbreak".to_owned(),
        "tab\t".to_owned(),
    ] {
        app.call(&key, CALLER, ACME_SF)
            .await
            .assert_json(400, &body(&[("key", MALFORMED_KEY)]));
    }
    // Well-formed but unknown, metacharacters included: a plain 403.
    for key in [
        "k".repeat(128),
        "' OR '1'='1".to_owned(),
        "<key>&amp;".to_owned(),
        "%s%n".to_owned(),
    ] {
        app.call(&key, CALLER, ACME_SF)
            .await
            .assert_json(403, r#"{"key":"Invalid API Key"}"#);
    }
}

#[tokio::test]
async fn context_is_checked_and_travels_when_valid() {
    let app = spawn_app().await;
    for context in ["<Say>", "opt in", "x".repeat(65).as_str(), "OPT_IN'--", "é"] {
        let query = format!(
            "key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567&context={}",
            encode(context)
        );
        app.get(&query)
            .await
            .assert_json(400, &body(&[("context", BAD_CONTEXT)]));
    }
    let query = format!("key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567&context=campaign-42.fr:OPT_IN");
    app.get(&query).await.assert_twiml(DIAL_ACME_SF);
    assert_eq!(app.last_call().await.context.as_deref(), Some("campaign-42.fr:OPT_IN"));
}

#[tokio::test]
async fn every_bad_field_is_reported_in_one_body() {
    let app = spawn_app().await;
    let query = "key=%00&from=0014151234560&to=+14151234567&context=%3Cx%3E";
    app.get(query).await.assert_json(
        400,
        &body(&[
            ("key", MALFORMED_KEY),
            ("to", PLUS_HINT),
            ("from", SHAPE),
            ("context", BAD_CONTEXT),
        ]),
    );
}

#[tokio::test]
async fn the_journal_keeps_a_bounded_copy_of_rejected_input() {
    let app = spawn_app().await;
    let huge = format!("+{}", "9".repeat(5000));
    app.call(ACME_KEY, &huge, ACME_SF)
        .await
        .assert_json(400, &body(&[("from", SHAPE)]));
    let call = app.last_call().await;
    assert_eq!((call.outcome.as_str(), call.http_status), ("invalid_request", 400));
    assert_eq!(call.from_number.map(|f| f.chars().count()), Some(64));
    assert_eq!(call.to_number.as_deref(), Some(ACME_SF));
}
