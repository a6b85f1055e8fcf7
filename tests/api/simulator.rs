//! docs/simulator.md: calls played against TwiML served by a local test
//! server and against the gateway's own hook.

use std::time::Duration;

use reqwest::Method as HttpMethod;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::sink::{Received, Reply, Sink};
use ivr_gateway::surfaces::simulator::twiml::Method;
use ivr_gateway::surfaces::simulator::{self, Answer, Call, Ending, Persona, Step};

fn twiml(body: &str) -> Reply {
    Reply::Full(200, vec![("content-type", "text/xml".to_owned())], body.to_owned())
}

/// A TwiML app: `route(path, request)` answers each request.
fn app(route: impl Fn(&str, &Received) -> Reply + Send + Sync + 'static) -> Sink {
    Sink::start(move |received, _| route(received.path.as_str(), received))
}

fn call(url: &str, persona: Persona) -> Call {
    Call {
        url: url.to_owned(),
        method: Method::Post,
        from: CALLER.to_owned(),
        to: ACME_SF.to_owned(),
        persona,
        auth_token: None,
        first_params: Vec::new(),
        first_json: None,
    }
}

async fn play(call: &Call) -> simulator::Transcript {
    simulator::play(&simulator::engine::client(Duration::from_secs(2)), call).await
}

fn form(received: &Received) -> Vec<(String, String)> {
    form_urlencoded::parse(&received.body).into_owned().collect()
}

fn said(transcript: &simulator::Transcript) -> Vec<String> {
    transcript
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Say { text, .. } => Some(text.clone()),
            Step::Gather {
                digits: Some(digits), ..
            } => Some(format!("pressed {digits}")),
            Step::Gather { .. } => Some("timed out".to_owned()),
            Step::Dial { number, outcome } => Some(format!("dial {number} {outcome}")),
            _ => None,
        })
        .collect()
}

const MENU: &str = r#"<Response><Gather numDigits="1" action="/menu"><Say language="en">Press 1 for sales</Say></Gather><Say>We did not get that</Say></Response>"#;

fn menu_app() -> Sink {
    app(|path, received| match path {
        "/" => twiml(MENU),
        "/menu" if form(received).contains(&("Digits".into(), "1".into())) => {
            twiml(r#"<Response><Say>Sales</Say><Dial action="/after">+14155550100</Dial></Response>"#)
        }
        "/after" => {
            let status = form(received)
                .into_iter()
                .find(|(name, _)| name == "DialCallStatus")
                .unwrap()
                .1;
            twiml(&format!(
                "<Response><Say>Dial ended: {status}</Say><Hangup/></Response>"
            ))
        }
        _ => Reply::Status(404),
    })
}

#[tokio::test]
async fn a_gather_posts_its_digits_to_its_action_with_twilios_parameters() {
    let server = menu_app();
    let persona = Persona {
        presses: vec!["1".into()],
        ..Default::default()
    };
    let transcript = play(&call(&format!("{}/", server.url), persona)).await;
    assert_eq!(
        said(&transcript),
        [
            "Press 1 for sales",
            "pressed 1",
            "Sales",
            "dial +14155550100 completed",
            "Dial ended: completed"
        ]
    );
    assert_eq!((transcript.ended, transcript.error.as_deref()), (Ending::Hangup, None));
    let first = form(&server.received()[0]);
    for name in [
        "CallSid",
        "AccountSid",
        "From",
        "To",
        "CallStatus",
        "Direction",
        "ApiVersion",
    ] {
        assert!(first.iter().any(|(n, _)| n == name), "{name} missing from {first:?}");
    }
    assert!(first.contains(&("From".into(), CALLER.into())));
    assert!(first.contains(&("CallStatus".into(), "ringing".into())));
    let second = form(&server.received()[1]);
    assert!(second.contains(&("CallStatus".into(), "in-progress".into())));
    let call_sid = |params: &[(String, String)]| params.iter().find(|(n, _)| n == "CallSid").unwrap().1.clone();
    assert_eq!(call_sid(&first), call_sid(&second), "one CallSid for the whole call");
    assert_eq!(call_sid(&first), transcript.call_sid);
}

#[tokio::test]
async fn nothing_pressed_falls_through_and_a_busy_dial_reports_its_status() {
    let server = menu_app();
    let transcript = play(&call(&format!("{}/", server.url), Persona::default())).await;
    assert_eq!(
        said(&transcript),
        ["Press 1 for sales", "timed out", "We did not get that"]
    );
    assert_eq!(transcript.ended, Ending::Completed);

    let busy = Persona {
        presses: vec!["1".into()],
        dial: [("+14155550100".to_owned(), Answer::Busy)].into(),
        ..Default::default()
    };
    let transcript = play(&call(&format!("{}/", server.url), busy)).await;
    assert_eq!(said(&transcript).last().unwrap(), "Dial ended: busy");
}

#[tokio::test]
async fn the_persona_hangs_up_or_does_not_answer() {
    let server = menu_app();
    let hang_up = Persona {
        presses: vec!["1".into()],
        hang_up_at: Some(2),
        ..Default::default()
    };
    let transcript = play(&call(&format!("{}/", server.url), hang_up)).await;
    assert_eq!(transcript.ended, Ending::CallerHungUp);
    assert_eq!(said(&transcript), ["Press 1 for sales", "pressed 1"]);
    let busy = Persona {
        answer: Answer::Busy,
        ..Default::default()
    };
    let transcript = play(&call(&format!("{}/", server.url), busy)).await;
    assert_eq!((transcript.ended, transcript.steps.len()), (Ending::Busy, 0));
}

#[tokio::test]
async fn redirect_loops_are_capped_and_bad_answers_end_the_call_with_a_clear_error() {
    let server = app(|path, _| match path {
        "/loop" => twiml("<Response><Say>again</Say><Redirect>/loop</Redirect></Response>"),
        "/broken" => twiml("<Response><Say>unclosed</Response>"),
        "/error" => Reply::Full(500, vec![], "oops".into()),
        "/slow" => Reply::Hang,
        "/huge" => twiml(&format!("<Response><Say>{}</Say></Response>", "x".repeat(100_000))),
        "/verb" => twiml("<Response><Enqueue>q</Enqueue></Response>"),
        _ => Reply::Status(404),
    });
    let cases = [
        ("/loop", "more than 25 requests"),
        ("/broken", "invalid TwiML"),
        ("/error", "answered HTTP 500: oops"),
        ("/slow", "timed out"),
        ("/huge", "over 65536 bytes"),
        ("/verb", "<Enqueue> is not a TwiML verb"),
    ];
    for (path, error) in cases {
        let transcript = play(&call(&format!("{}{path}", server.url), Persona::default())).await;
        assert_eq!(transcript.ended, Ending::Error, "{path}");
        let said = transcript.error.clone().unwrap();
        assert!(said.contains(error), "{path}: {said}");
        assert!(transcript.render().contains(&format!("Call ended: error ({said})")));
    }
    let nowhere = play(&call("http://127.0.0.1:9/", Persona::default())).await;
    let refused = nowhere.error.unwrap();
    assert!(
        refused.starts_with("connection refused or unreachable (") && refused.contains("refused"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_call_to_the_hook_dials_the_store_and_queues_the_welcome_sms() {
    let app = spawn_app().await;
    let mut hook = call(&format!("{}/v1/ivr?key={ACME_KEY}", app.address), Persona::default());
    hook.to = ACME_SF.to_owned();
    let transcript = play(&hook).await;
    assert_eq!(said(&transcript), ["dial +14155550100 completed"]);
    assert_eq!(transcript.ended, Ending::Completed);
    let Step::Request { status, method, .. } = &transcript.steps[0] else {
        panic!("{:?}", transcript.steps)
    };
    assert_eq!((*status, *method), (Some(200), Method::Post));
    assert_eq!(app.last_call().await.outcome, "dial");
    assert_eq!(app.sms_count().await, 1);
    // Transcripts are printed and journaled: the key is masked.
    let text = transcript.render();
    assert!(!text.contains(ACME_KEY) && text.contains("key=***"), "{text}");
}

#[tokio::test]
async fn signed_calls_pass_the_hooks_twilio_validation_and_wrongly_signed_ones_do_not() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Retail").await;
    let token = "0123456789abcdef0123456789abcdef";
    app.client
        .patch(format!("{}/admin/organizations/{acme}", app.address))
        .header("content-type", "application/json")
        .body(json!({"twilio_auth_token": token}).to_string())
        .send()
        .await
        .unwrap();
    for method in [Method::Post, Method::Get] {
        let mut signed = call(&format!("{}/v1/ivr?key={ACME_KEY}", app.address), Persona::default());
        signed.method = method;
        signed.auth_token = Some(token.to_owned());
        let transcript = play(&signed).await;
        assert_eq!(
            said(&transcript),
            ["dial +14155550100 completed"],
            "{method:?}: {transcript:?}"
        );
        signed.auth_token = Some("another-token".to_owned());
        let refused = play(&signed).await;
        assert_eq!(refused.ended, Ending::Error);
        assert!(refused.error.unwrap().contains("answered HTTP 403"), "{method:?}");
    }
}

#[tokio::test]
async fn the_admin_api_plays_journals_and_lists_simulations() {
    let app = spawn_app().await;
    let server = menu_app();
    let (mut events, mut buffer) = crate::events::subscribe(&app).await;
    let response = app
        .client
        .post(format!("{}/admin/simulations", app.address))
        .header("content-type", "application/json")
        .body(
            json!({"url": format!("{}/", server.url), "from": CALLER, "to": ACME_SF, "persona": {"presses": ["1"]}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let played: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(played["transcript"]["ended"], "hangup");
    let id = played["id"].as_i64().unwrap();
    let listed: Value =
        serde_json::from_str(&app.request(HttpMethod::GET, "/admin/simulations?limit=5").await.body).unwrap();
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(listed["items"][0]["ended"], "hangup");
    let one: Value = serde_json::from_str(
        &app.request(HttpMethod::GET, &format!("/admin/simulations/{id}"))
            .await
            .body,
    )
    .unwrap();
    assert_eq!(one["transcript"], played["transcript"]);
    let frames = crate::events::next_frames_of(&mut events, &mut buffer, 1, &["simulation"]).await;
    assert_eq!(frames[0].1["id"], id);

    for (body, field) in [
        (json!({"url": "ftp://x", "from": "a", "to": "b"}), "url"),
        (json!({"url": "http://x", "from": "", "to": "b"}), "from"),
        (
            json!({"url": "http://x", "from": "a", "to": "b", "persona": {"presses": ["9x"]}}),
            "persona",
        ),
        (json!({"url": "http://x", "from": "a", "to": "b", "unknown": 1}), "body"),
    ] {
        let response = app
            .client
            .post(format!("{}/admin/simulations", app.address))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let refused: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert!(refused.get(field).is_some(), "{body}: {refused}");
    }
}

#[tokio::test]
async fn the_cli_prints_the_transcript() {
    let server = menu_app();
    let output = tokio::process::Command::new(binary())
        .args([
            "simulate",
            "--url",
            &format!("{}/", server.url),
            "--from",
            CALLER,
            "--to",
            ACME_SF,
            "--press",
            "1",
        ])
        .args(["--dial", "+14155550100=no-answer"])
        .output()
        .await
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|line| !line.starts_with("POST ")).collect();
    assert_eq!(
        lines,
        [
            "Say (en): Press 1 for sales",
            "Pressed 1",
            "Say: Sales",
            "Dial +14155550100: no-answer",
            "Say: Dial ended: no-answer",
            "Call ended: hangup"
        ]
    );
    let failed = tokio::process::Command::new(binary())
        .args([
            "simulate",
            "--url",
            "http://127.0.0.1:9/",
            "--from",
            CALLER,
            "--to",
            ACME_SF,
        ])
        .output()
        .await
        .unwrap();
    assert!(!failed.status.success());
}
