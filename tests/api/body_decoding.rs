//! docs/ivr-hook.md §1: where fields come from, and bodies that cannot be read.

use crate::helpers::*;

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

#[tokio::test]
async fn json_body_with_every_field() {
    let app = spawn_app().await;
    let body =
        format!(r#"{{"key":"{ACME_KEY}","from":"+14151234560","to":"+14151234567","context":"OPT_IN","extra":[1]}}"#);
    app.post("", JSON, body).await.assert_twiml(DIAL_ACME_SF);
    let call = app.last_call().await;
    assert_eq!(
        (call.method.as_str(), call.context.as_deref()),
        ("POST", Some("OPT_IN"))
    );
}

#[tokio::test]
async fn json_variants_and_charsets_are_json() {
    let app = spawn_app().await;
    let body = format!(r#"{{"key":"{ACME_KEY}","from":"+14151234560","to":"+14151234567"}}"#);
    for content_type in [
        Some("application/json; charset=ISO-8859-1"),
        Some("application/vnd.api+json"),
        Some("Application/JSON"),
        None,
    ] {
        app.post("", content_type, body.clone())
            .await
            .assert_twiml(DIAL_ACME_SF);
    }
}

#[tokio::test]
async fn the_key_in_the_url_and_numbers_in_the_body() {
    let app = spawn_app().await;
    let query = format!("key={ACME_KEY}&from=%2B19999999999");
    app.post(&query, JSON, r#"{"from":"+14151234560","to":"+14151234567"}"#)
        .await
        .assert_twiml(DIAL_ACME_SF);
    assert_eq!(
        app.last_call().await.from_number.as_deref(),
        Some(CALLER),
        "the body wins over the query string"
    );
}

#[tokio::test]
async fn a_twilio_voice_webhook_form_is_understood() {
    let app = spawn_app().await;
    let form =
        "AccountSid=AC123&CallSid=CA456&From=%2B14151234560&To=%2B14151234567&CallStatus=ringing&Direction=inbound";
    app.post(&format!("key={ACME_KEY}"), FORM, form)
        .await
        .assert_twiml(DIAL_ACME_SF);
    let call = app.last_call().await;
    assert_eq!(
        (call.from_number.as_deref(), call.to_number.as_deref()),
        (Some(CALLER), Some(ACME_SF))
    );
}

#[tokio::test]
async fn lowercase_form_fields_win_over_twilio_capitals() {
    let app = spawn_app().await;
    let form = format!("key={ACME_KEY}&From=%2B19999999999&from=%2B14151234560&to=%2B15105550123&To=%2B14151234567");
    app.post("", FORM, form).await.assert_twiml(NO_FORWARDING);
}

#[tokio::test]
async fn json_values_that_are_not_strings_are_named_per_field() {
    let app = spawn_app().await;
    let body = r#"{"key":null,"from":14151234560,"to":["+14151234567"],"context":{"a":1}}"#;
    app.post("", JSON, body).await.assert_json(
        400,
        r#"{"key":"Must be a JSON string, not null","to":"Must be a JSON string, not an array","from":"Must be a JSON string, not a number","context":"Must be a JSON string, not an object"}"#,
    );
    let body = format!(r#"{{"key":"{ACME_KEY}","from":true,"to":"+14151234567","context":null}}"#);
    app.post("", JSON, body)
        .await
        .assert_json(400, r#"{"from":"Must be a JSON string, not a boolean"}"#);
}

#[tokio::test]
async fn a_json_null_for_a_required_field_is_not_filled_from_the_query() {
    let app = spawn_app().await;
    app.post(
        &format!("key={ACME_KEY}&to=%2B14151234567&from=%2B14151234560"),
        JSON,
        r#"{"to":null}"#,
    )
    .await
    .assert_json(400, r#"{"to":"Must be a JSON string, not null"}"#);
}

#[tokio::test]
async fn malformed_json_is_400_under_body() {
    let app = spawn_app().await;
    app.post("", JSON, r#"{"key":"#).await.assert_json(
        400,
        r#"{"body":"Malformed JSON: EOF while parsing a value at line 1 column 7"}"#,
    );
    app.post("", JSON, "key=a&from=b")
        .await
        .assert_json(400, r#"{"body":"Malformed JSON: expected value at line 1 column 1"}"#);
    app.post("", JSON, vec![0xff, 0xfe, b'{'])
        .await
        .assert_json(400, r#"{"body":"Malformed JSON: expected value at line 1 column 1"}"#);
    app.post("", JSON, "[1,2]")
        .await
        .assert_json(400, r#"{"body":"Expected a JSON object, got an array"}"#);
    app.post("", JSON, "\"+14151234560\"")
        .await
        .assert_json(400, r#"{"body":"Expected a JSON object, got a string"}"#);
    // Deep nesting never exhausts the stack: skimmed where it is not read
    // (a value that is no object, an unknown field), bounded where it is.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    app.post("", JSON, deep.clone())
        .await
        .assert_json(400, r#"{"body":"Expected a JSON object, got an array"}"#);
    let query = format!("key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567");
    app.post(&query, JSON, format!(r#"{{"extra":{deep}}}"#))
        .await
        .assert_twiml(DIAL_ACME_SF);
    app.post("", JSON, format!(r#"{{"key":{deep}}}"#)).await.assert_json(
        400,
        r#"{"body":"Malformed JSON: recursion limit exceeded at line 1 column 134"}"#,
    );
}

#[tokio::test]
async fn unicode_in_json_is_decoded_before_the_rules_apply() {
    let app = spawn_app().await;
    // \u002b is '+': a correctly escaped JSON string is a correct number.
    let body = format!(r#"{{"key":"{ACME_KEY}","from":"\u002b14151234560","to":"+14151234567"}}"#);
    app.post("", JSON, body).await.assert_twiml(DIAL_ACME_SF);
}

#[tokio::test]
async fn an_empty_post_body_takes_every_field_from_the_query() {
    let app = spawn_app().await;
    let query = format!("key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567");
    app.post(&query, JSON, "").await.assert_twiml(DIAL_ACME_SF);
    app.post(&query, None, "").await.assert_twiml(DIAL_ACME_SF);
}

#[tokio::test]
async fn other_content_types_are_415() {
    let app = spawn_app().await;
    for content_type in [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/jsonx",
    ] {
        app.post("", Some(content_type), "{}").await.assert_json(
            415,
            &format!(r#"{{"body":"Unsupported Content-Type '{content_type}': send application/json or application/x-www-form-urlencoded"}}"#),
        );
    }
}

#[tokio::test]
async fn bodies_over_16_kib_are_413_and_16_kib_is_fine() {
    let app = spawn_app().await;
    let fits = format!(r#"{{"key":"{ACME_KEY}","from":"+14151234560","to":"+14151234567","pad":""}}"#);
    let padded = fits.replace(
        r#""pad":"""#,
        &format!(r#""pad":"{}""#, "x".repeat(16 * 1024 - fits.len())),
    );
    assert_eq!(padded.len(), 16 * 1024);
    app.post("", JSON, padded.clone()).await.assert_twiml(DIAL_ACME_SF);
    app.post("", JSON, format!("{padded} "))
        .await
        .assert_json(413, r#"{"body":"Request body over 16384 bytes"}"#);
    app.post("", JSON, vec![b' '; 10 * 1024 * 1024])
        .await
        .assert_json(413, r#"{"body":"Request body over 16384 bytes"}"#);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_off_at_16_kib() {
    let app = spawn_app().await;
    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024]));
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    app.post("", JSON, body)
        .await
        .assert_json(413, r#"{"body":"Request body over 16384 bytes"}"#);
}

#[tokio::test]
async fn rejected_bodies_are_not_journaled() {
    let app = spawn_app().await;
    app.post("", Some("text/plain"), "x").await;
    app.post("", JSON, "{").await;
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM calls")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        calls, 0,
        "body decoding comes before step 2, which is what the journal records"
    );
}

#[tokio::test]
async fn a_field_given_twice_in_one_source_is_a_400_whatever_the_values() {
    let app = spawn_app().await;
    let duplicate = r#"{"key":"Duplicate parameter"}"#;
    app.get(&format!(
        "key={ACME_KEY}&key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567"
    ))
    .await
    .assert_json(400, duplicate);
    let form = format!("key={ACME_KEY}&From=%2B14151234560&From=%2B14151234561&To=%2B14151234567");
    app.post("", FORM, form)
        .await
        .assert_json(400, r#"{"from":"Duplicate parameter"}"#);
    let json = format!(r#"{{"key":"{ACME_KEY}","to":"+14151234567","to":"+14151234567","from":"+14151234560"}}"#);
    app.post("", JSON, json)
        .await
        .assert_json(400, r#"{"to":"Duplicate parameter"}"#);
    // One value in the body and one in the query is not a duplicate: the body wins.
    let query = format!("key={ACME_KEY}&to=%2B14155550000");
    app.post(&query, JSON, r#"{"from":"+14151234560","to":"+14151234567"}"#)
        .await
        .assert_twiml(DIAL_ACME_SF);
    assert_eq!(app.last_call().await.outcome, "dial");
}

#[tokio::test]
async fn a_query_string_over_8_kib_is_a_json_414_and_8_kib_is_read() {
    let app = spawn_app().await;
    let fields = format!("key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567&pad=");
    let at_limit = format!("{fields}{}", "x".repeat(8 * 1024 - fields.len()));
    app.get(&at_limit).await.assert_twiml(DIAL_ACME_SF);
    let over = format!("{at_limit}x");
    let too_long = r#"{"query":"Query string over 8192 bytes"}"#;
    app.get(&over).await.assert_json(414, too_long);
    app.post(&over, JSON, "{}").await.assert_json(414, too_long);
}

/// Sends `request` on a raw connection and reads the answer until the
/// server closes it: reqwest would refuse such a URI before sending it.
async fn raw_exchange(app: &TestApp, request: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // The server may answer and close before the whole request is written.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer));
    read.await.expect("the server answers and closes").ok();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_query_string_too_long_for_the_http_parser_is_the_same_json_414() {
    let app = spawn_app().await;
    let too_long = r#"{"query":"Query string over 8192 bytes"}"#;
    // 64 KiB is past what the parser holds (a bare 400), 200 KiB past its
    // head buffer (a 431): both are the contract's 414, on GET and POST.
    for size in [64 * 1024, 200 * 1024] {
        for method in ["GET", "POST"] {
            let request = format!(
                "{method} /v1/ivr?key={ACME_KEY}&pad={} HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\n\r\n",
                "x".repeat(size)
            );
            let answer = raw_exchange(&app, request.into_bytes()).await;
            assert!(
                answer.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
                "{method} {size}: {answer:.200}"
            );
            assert!(answer.contains("\r\ncontent-type: application/json\r\n"), "{answer}");
            assert!(answer.ends_with(&format!("\r\n\r\n{too_long}")), "{answer}");
        }
    }
    // A header too long for the parser keeps the parser's own answer.
    let request = format!(
        "GET /healthz HTTP/1.1\r\nhost: localhost\r\nx-pad: {}\r\n\r\n",
        "y".repeat(200 * 1024)
    );
    let answer = raw_exchange(&app, request.into_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:.200}");
    // The server goes on answering.
    app.get(&format!("key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567"))
        .await
        .assert_twiml(DIAL_ACME_SF);
}
