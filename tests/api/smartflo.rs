//! docs/smartflo.md: login, IVRs with Smartflo's rules and error shape, and a
//! simulated call through a Smartflo IVR into the Instaply hook.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use ivr_gateway::surfaces::simulator::{self, Call, Ending, Persona, Step};

const API_TOKEN: &str = "smartflo-api-token-0001";
const DID: &str = "+14151234567";

impl TestApp {
    async fn smartflo(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}/smartflo/v1{path}", self.address));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
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

    /// The example fixtures, with webhook 7 calling this app's own hook.
    async fn smartflo_webhook_to_self(&self) {
        let fixtures = EXAMPLE_FIXTURES.replace("http://127.0.0.1:8080", &self.address);
        let response = self
            .client
            .post(format!("{}/admin/fixtures", self.address))
            .header("content-type", "application/toml")
            .body(fixtures)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    async fn play_number(&self, persona: Persona) -> simulator::Transcript {
        let call = Call {
            url: format!("{}/smartflo/numbers/{}/voice", self.address, encode(DID)),
            method: ivr_gateway::surfaces::simulator::twiml::Method::Post,
            from: "+14155550111".into(),
            to: DID.into(),
            persona,
            auth_token: None,
            first_params: Vec::new(),
            first_json: None,
        };
        simulator::play(&simulator::engine::client(Duration::from_secs(5)), &call).await
    }
}

fn valid_ivr(name: &str) -> Value {
    json!({
        "name": name, "description": "Support line", "recording": "recording|28935", "timeout": 10,
        "option": ["1", "#"], "destination": ["extension|05047530000", "hangup|0"],
        "incorrect_count": 2, "timeout_recording": "recording|28955", "invalid_recording": "recording|28955",
        "invalid_destination": "hangup|0", "timeout_retry_recording": "recording|28977",
        "timeout_destination": "extension|05047530000"
    })
}

fn heard(transcript: &simulator::Transcript) -> Vec<String> {
    transcript
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Say { text, .. } => Some(text.clone()),
            Step::Gather { digits, .. } => Some(format!("pressed {}", digits.as_deref().unwrap_or("nothing"))),
            Step::Dial { number, .. } => Some(format!("dial {number}")),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn login_gives_a_bearer_token_and_wrong_credentials_do_not() {
    let app = spawn_app().await;
    let (status, login) = app
        .smartflo(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "ops@acme.example", "password": "smartflo-demo"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            login["success"].as_bool(),
            login["token_type"].as_str(),
            login["expires_in"].as_i64()
        ),
        (Some(true), Some("bearer"), Some(3600))
    );
    let token = login["access_token"].as_str().unwrap();
    let (status, ivrs) = app.smartflo(Method::GET, "/ivrs", Some(token), None).await;
    assert_eq!(status, 200);
    assert_eq!(ivrs["ivrs"][0]["name"], "Acme IVR");

    let (status, refused) = app
        .smartflo(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "ops@acme.example", "password": "wrong"})),
        )
        .await;
    assert_eq!(
        (status, refused),
        (401, json!({"success": false, "message": "Invalid email or password."}))
    );
    for token in [None, Some("not-a-token")] {
        let (status, refused) = app.smartflo(Method::GET, "/ivrs", token, None).await;
        assert_eq!(
            (status, refused),
            (401, json!({"success": false, "message": "Unauthenticated."})),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn ivrs_are_created_read_updated_and_deleted_in_smartflos_shape() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/smartflo/v1/ivr", app.address))
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .header("content-type", "application/json")
        .body(valid_ivr("Support IVR").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(
        created,
        json!({"success": true, "message": "IVR created successfully."})
    );
    let path = location.trim_start_matches("/smartflo/v1");
    let (status, read) = app.smartflo(Method::GET, path, Some(API_TOKEN), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            read["recording"].as_str(),
            read["invalid_retries"].as_i64(),
            read["timeout_dest_type"].as_str(),
            read["invalid_recording"].as_i64()
        ),
        (Some("28935"), Some(2), Some("extension"), Some(28955))
    );
    assert_eq!(
        read["ivr_menu"][1],
        json!({"option": "#", "destination_type": "hangup", "destination_id": "0", "sms_template_id": "0", "webhook_id": "0"})
    );
    let (status, duplicate) = app
        .smartflo(Method::POST, "/ivr", Some(API_TOKEN), Some(valid_ivr("Support IVR")))
        .await;
    assert_eq!(
        (status, duplicate["message"].as_str()),
        (409, Some("The name has already been taken."))
    );

    let mut changed = valid_ivr("Support IVR");
    changed["timeout"] = json!(20);
    assert_eq!(
        app.smartflo(Method::PUT, path, Some(API_TOKEN), Some(changed)).await.0,
        200
    );
    assert_eq!(
        app.smartflo(Method::GET, path, Some(API_TOKEN), None).await.1["timeout"],
        20
    );
    assert_eq!(app.smartflo(Method::DELETE, path, Some(API_TOKEN), None).await.0, 200);
    let (status, missing) = app.smartflo(Method::GET, path, Some(API_TOKEN), None).await;
    assert_eq!(
        (status, missing),
        (404, json!({"success": false, "message": "IVR not found."}))
    );
}

#[tokio::test]
async fn a_bad_ivr_gets_every_problem_in_smartflos_error_shape() {
    let app = spawn_app().await;
    let mut body = valid_ivr("Broken");
    body.as_object_mut().unwrap().remove("description");
    body["timeout"] = json!("ten");
    body["option"] = json!(["1", "1"]);
    body["recording"] = json!("recording|1");
    let (status, refused) = app.smartflo(Method::POST, "/ivr", Some(API_TOKEN), Some(body)).await;
    assert_eq!(status, 400);
    assert_eq!(refused["success"], false);
    assert_eq!(
        refused["errors"]["description"],
        json!(["The description field is required."])
    );
    assert_eq!(refused["errors"]["timeout"], json!(["The timeout must be an integer."]));
    assert_eq!(refused["errors"]["option.1"], json!(["The option 1 is repeated."]));
    assert_eq!(
        refused["errors"]["recording"],
        json!(["The selected recording is invalid: no recording 1."])
    );
    assert_eq!(refused["message"], "The description field is required.");
    let (status, _) = app
        .smartflo(Method::POST, "/ivr", Some(API_TOKEN), Some(json!([1, 2])))
        .await;
    assert_eq!(status, 400);
    let (_, ivrs) = app.smartflo(Method::GET, "/ivrs", Some(API_TOKEN), None).await;
    assert_eq!(ivrs["ivrs"].as_array().unwrap().len(), 1, "nothing was created");
}

#[tokio::test]
async fn a_simulated_call_goes_smartflo_then_hook_then_welcome_sms() {
    let app = spawn_app().await;
    app.smartflo_webhook_to_self().await;
    let transcript = app
        .play_number(Persona {
            presses: vec!["1".into()],
            ..Default::default()
        })
        .await;
    assert_eq!(
        heard(&transcript),
        [
            "Welcome to Acme. Press 1 to talk to our San Francisco store.",
            "pressed 1",
            "dial +14155550100"
        ],
        "{}",
        transcript.render()
    );
    assert_eq!(transcript.ended, Ending::Completed);
    // Smartflo's webhook called the Instaply hook with the caller and the number called.
    let call = app.last_call().await;
    assert_eq!((call.outcome.as_str(), call.method.as_str()), ("dial", "GET"));
    assert_eq!(
        (call.from_number.as_deref(), call.to_number.as_deref()),
        (Some("+14155550111"), Some(DID))
    );
    assert_eq!(app.sms_count().await, 1, "the welcome SMS was queued");
}

#[tokio::test]
async fn timeouts_and_invalid_keys_retry_then_land_on_their_destinations() {
    let app = spawn_app().await;
    // Nothing pressed: the retry recording and the menu again, then the timeout destination.
    let transcript = app.play_number(Persona::default()).await;
    assert_eq!(
        heard(&transcript),
        [
            "Welcome to Acme. Press 1 to talk to our San Francisco store.",
            "pressed nothing",
            "We did not hear anything.",
            "Welcome to Acme. Press 1 to talk to our San Francisco store.",
            "pressed nothing",
            "Sorry, we did not get that. Goodbye.",
        ],
        "{}",
        transcript.render()
    );
    assert_eq!(transcript.ended, Ending::Hangup);
    // Wrong keys: the invalid recording, the menu again, then the invalid destination.
    let transcript = app
        .play_number(Persona {
            presses: vec!["7".into(), "9".into()],
            ..Default::default()
        })
        .await;
    assert_eq!(
        heard(&transcript),
        [
            "Welcome to Acme. Press 1 to talk to our San Francisco store.",
            "pressed 7",
            "Sorry, we did not get that. Goodbye.",
            "Welcome to Acme. Press 1 to talk to our San Francisco store.",
            "pressed 9",
            "Sorry, we did not get that. Goodbye.",
        ]
    );
    assert_eq!(transcript.ended, Ending::Hangup);
    assert_eq!(app.sms_count().await, 0, "no option reached the hook");
}

#[tokio::test]
async fn an_unknown_number_is_not_in_service() {
    let app = spawn_app().await;
    let answer = app.request(Method::GET, "/smartflo/numbers/%2B19995550000/voice").await;
    assert_eq!(
        (answer.status, answer.content_type.as_str()),
        (200, "text/xml; charset=utf-8")
    );
    assert_eq!(
        answer.body,
        "<Response><Say>The number you have dialled is not in service.</Say><Hangup/></Response>"
    );
}

#[tokio::test]
async fn a_malformed_number_or_credentials_never_reach_the_database() {
    let app = spawn_app().await;
    for did in ["0", "%00", "not-a-number"] {
        let answer = app
            .request(Method::POST, &format!("/smartflo/numbers/{did}/voice"))
            .await;
        assert_eq!(answer.status, 200, "{did}");
        assert!(answer.body.contains("not in service"), "{did}: {}", answer.body);
    }
    let (status, _) = app
        .smartflo(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"email": "ops@acme.example\u{0}", "password": "x"})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_cli_calls_a_smartflo_number() {
    let app = spawn_app().await;
    app.smartflo_webhook_to_self().await;
    let output = tokio::process::Command::new(binary())
        .args([
            "simulate",
            "--gateway",
            &app.address,
            "--smartflo-number",
            DID,
            "--from",
            "+14155550111",
            "--to",
            DID,
        ])
        .args(["--press", "1"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("Pressed 1\n"), "{text}");
    assert!(
        text.ends_with("Dial +14155550100: completed\nCall ended: completed\n"),
        "{text}"
    );
    assert_eq!(app.last_call().await.outcome, "dial");
}
