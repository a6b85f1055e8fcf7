//! An organization holding a Twilio auth token gets only signed calls.
//! Signatures are computed here from Twilio's published algorithm.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;

use crate::helpers::*;

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const INVALID: &str = r#"{"signature":"Invalid X-Twilio-Signature"}"#;

/// base64(HMAC-SHA1(token, url + sorted(name + value)))
fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut data = url.to_owned();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn require_signatures(app: &TestApp) {
    let acme = app.organization_id("Acme Retail").await;
    let response = app
        .client
        .patch(format!("{}/admin/organizations/{acme}", app.address))
        .header("content-type", "application/json")
        .body(json!({"twilio_auth_token": TOKEN}).to_string())
        .send()
        .await
        .unwrap();
    let organization: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(organization["twilio_signature_required"], true);
    assert!(
        !organization.to_string().contains(TOKEN),
        "the token is never shown back"
    );
}

async fn send(app: &TestApp, request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers["content-type"].to_str().unwrap().to_owned();
    let _ = app;
    Answer {
        status,
        content_type,
        headers,
        body: response.text().await.unwrap(),
    }
}

#[tokio::test]
async fn get_calls_need_a_valid_signature_over_the_full_url() {
    let app = spawn_app().await;
    require_signatures(&app).await;
    let url = format!(
        "{}/v1/ivr?key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567",
        app.address
    );

    send(&app, app.client.get(&url)).await.assert_json(403, INVALID);
    let call = app.last_call().await;
    assert_eq!((call.outcome.as_str(), call.http_status), ("invalid_signature", 403));
    send(
        &app,
        app.client
            .get(&url)
            .header("x-twilio-signature", "bm90IGEgc2lnbmF0dXJl"),
    )
    .await
    .assert_json(403, INVALID);

    let signed = twilio_signature(&url, &[]);
    send(&app, app.client.get(&url).header("x-twilio-signature", signed))
        .await
        .assert_twiml(DIAL_ACME_SF);

    // Twilio may sign the URL without the port the request arrives on.
    let without_port = url.replacen(&format!(":{}", app.address.rsplit(':').next().unwrap()), "", 1);
    assert_ne!(without_port, url);
    let signed = twilio_signature(&without_port, &[]);
    send(&app, app.client.get(&url).header("x-twilio-signature", signed))
        .await
        .assert_twiml(DIAL_ACME_SF);

    // Other tenants, without a token, are not asked for one.
    app.call(GLOBEX_KEY, CALLER, GLOBEX_OPERA)
        .await
        .assert_twiml("<Response><Dial>+33142685301</Dial></Response>");
}

#[tokio::test]
async fn form_posts_are_signed_over_the_url_and_sorted_parameters() {
    let app = spawn_app().await;
    require_signatures(&app).await;
    let url = format!("{}/v1/ivr?key={ACME_KEY}", app.address);
    let params = [
        ("CallSid", "CA123"),
        ("From", "+14151234560"),
        ("To", "+14151234567"),
        ("AccountSid", "AC9"),
    ];
    let signed = twilio_signature(&url, &params);
    send(
        &app,
        app.client
            .post(&url)
            .form(&params)
            .header("x-twilio-signature", &signed),
    )
    .await
    .assert_twiml(DIAL_ACME_SF);

    let tampered = [
        ("CallSid", "CA123"),
        ("From", "+14155550123"),
        ("To", "+14151234567"),
        ("AccountSid", "AC9"),
    ];
    send(
        &app,
        app.client
            .post(&url)
            .form(&tampered)
            .header("x-twilio-signature", &signed),
    )
    .await
    .assert_json(403, INVALID);
}

#[tokio::test]
async fn json_posts_are_signed_through_body_sha256() {
    use sha2::Digest;
    let app = spawn_app().await;
    require_signatures(&app).await;
    let body = json!({"from": "+14151234560", "to": "+14151234567"}).to_string();
    let hash: String = sha2::Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let url = format!("{}/v1/ivr?key={ACME_KEY}&bodySHA256={hash}", app.address);
    let signed = twilio_signature(&url, &[]);
    let post = |body: String| {
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-twilio-signature", &signed)
            .body(body)
    };
    send(&app, post(body.clone())).await.assert_twiml(DIAL_ACME_SF);
    let other = json!({"from": "+14155550123", "to": "+14151234567"}).to_string();
    send(&app, post(other)).await.assert_json(403, INVALID);
}
