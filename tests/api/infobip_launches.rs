//! docs/infobip.md: launches of outbound IVR. Validation and clamping in
//! Infobip's shapes; calls played against personas, their reports pushed
//! (JSON v2, v1, XML) and pulled; retries, scheduling and expiry on the
//! emulator's clock; a restart in the middle of a launch.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;
use crate::sink::Sink;

const APP: &str = "App infobip-api-key-0001";
const BUSY: &str = "41793026001";
const NO_ANSWER: &str = "41793026002";
const PRESSES_2: &str = "41793026003";
const ANSWERS: &str = "41793026004";

impl TestApp {
    async fn infobip_json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address))
            .header("authorization", APP);
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

    async fn scenario(&self, script: Value) -> String {
        let (status, created) = self
            .infobip_json(
                reqwest::Method::POST,
                "/infobip/voice/ivr/1/scenarios",
                Some(json!({"name": "Menu", "script": script})),
            )
            .await;
        assert_eq!(status, 200, "{created}");
        created["id"].as_str().unwrap().to_owned()
    }

    async fn launch(&self, body: Value) -> (u16, Value) {
        self.infobip_json(reqwest::Method::POST, "/infobip/voice/ivr/1/messages", Some(body))
            .await
    }

    async fn admin_json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.client.request(method, format!("{}/admin{path}", self.address));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        serde_json::from_str(&response.text().await.unwrap()).unwrap()
    }

    async fn advance_clock(&self, by: &str) {
        self.admin_json(reqwest::Method::POST, "/clock/advance", Some(json!({ "by": by })))
            .await;
    }

    /// The launch's calls once `count` of them have `status`.
    async fn calls_when(&self, bulk_id: &str, status: &str, count: usize) -> Vec<Value> {
        let path = format!("/infobip/calls?bulk_id={bulk_id}&status={status}&wait=10s&at_least={count}");
        let listed = self.admin_json(reqwest::Method::GET, &path, None).await;
        listed["items"].as_array().unwrap().clone()
    }
}

fn menu() -> Value {
    json!([
        {"say": "Hello ${name}. Press 1 or 2.", "language": "en"},
        {"collectInto": "choice", "options": {"maxInputLength": 1, "timeout": 5}},
        {"switch": "${choice}", "case": {"2": [{"say": "You chose two"}]}},
        {"hangup": "done"}
    ])
}

fn worker_app() -> TestSettings {
    TestSettings {
        sms_worker: true,
        ..TestSettings::default()
    }
}

const PENDING: &str = r#"{"description":"Message sent to next instance","groupId":1,"groupName":"PENDING","id":26,"name":"PENDING_ACCEPTED"}"#;

#[tokio::test]
async fn a_launch_answers_pending_accepted_for_every_destination_with_ids_generated_where_absent() {
    let app = spawn_app().await;
    let scenario = app.scenario(menu()).await;
    let (status, body) = app
        .launch(
            json!({"bulkId": "bulk-1", "messages": [{"scenarioId": scenario, "from": "38515507799",
            "destinations": [{"to": "41793026727", "messageId": "m-1"}, {"to": "41793026728"}]}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["bulkId"], "bulk-1");
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(
        (messages[0]["to"].as_str(), messages[0]["messageId"].as_str()),
        (Some("41793026727"), Some("m-1"))
    );
    assert_eq!(messages[1]["to"], "41793026728");
    assert!(uuid::Uuid::parse_str(messages[1]["messageId"].as_str().unwrap()).is_ok());
    for message in messages {
        assert_eq!(message["status"].to_string(), PENDING);
    }
    // A bulk id is one launch's.
    let (status, again) = app
        .launch(json!({"bulkId": "bulk-1", "messages": [{"scenarioId": scenario, "destinations": [{"to": "41793026727"}]}]}))
        .await;
    assert_eq!(
        (status, again.to_string()),
        (
            400,
            r#"{"requestError":{"serviceException":{"messageId":"BAD_REQUEST","text":"Bad request","validationErrors":{"bulkId":["already used by an earlier launch"]}}}}"#.to_owned()
        )
    );
    // Without a bulk id one is generated.
    let (_, generated) = app
        .launch(json!({"messages": [{"scenarioId": scenario, "destinations": [{"to": "41793026727"}]}]}))
        .await;
    assert!(uuid::Uuid::parse_str(generated["bulkId"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn bad_launches_are_refused_in_infobips_shape_and_over_limit_values_clamped() {
    let app = spawn_app().await;
    let scenario = app.scenario(menu()).await;
    let (status, body) = app
        .launch(json!({"messages": [{"scenarioId": "NOPE", "destinations": [{"to": "41793026727"}]},
                                    {"scenarioId": scenario, "destinations": [{"to": "12"}], "callbackData": "x".repeat(201),
                                     "retry": {"minPeriod": 1, "maxPeriod": 2}}]}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["requestError"]["serviceException"]["validationErrors"],
        json!({
            "messages[1].callbackData": ["size must be between 0 and 200"],
            "messages[1].destinations[0].to": ["must be a phone number in international format"],
            "messages[1].retry.maxCount": ["must not be null"],
        })
    );
    let (status, body) = app
        .launch(json!({"messages": [{"scenarioId": "NOPE", "destinations": [{"to": "41793026727"}]}]}))
        .await;
    assert_eq!(
        (status, &body["requestError"]["serviceException"]["validationErrors"]),
        (
            400,
            &json!({"messages[0].scenarioId": ["no such scenario in this account"]})
        )
    );
    for (body, text) in [("{", "Invalid JSON"), ("[]", "Bad request")] {
        let response = app
            .client
            .post(format!("{}/infobip/voice/ivr/1/messages", app.address))
            .header("authorization", APP)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let error: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(error["requestError"]["serviceException"]["messageId"], "BAD_REQUEST");
        assert!(
            error["requestError"]["serviceException"]["text"]
                .as_str()
                .unwrap()
                .starts_with(text)
        );
    }
    let response = app
        .client
        .post(format!("{}/infobip/voice/ivr/1/messages", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (response.status().as_u16(), response.text().await.unwrap()),
        (
            401,
            r#"{"requestError":{"serviceException":{"messageId":"UNAUTHORIZED","text":"Invalid login details"}}}"#
                .to_owned()
        )
    );

    // Clamped, not refused: validity to 48 h, maxCount to 4, periods up the ladder.
    let (status, _) = app
        .launch(
            json!({"bulkId": "clamped", "messages": [{"scenarioId": scenario, "destinations": [{"to": "41793026727"}],
            "validityPeriod": 100000, "retry": {"minPeriod": 3, "maxPeriod": 45, "maxCount": 10}}]}),
        )
        .await;
    assert_eq!(status, 200);
    let stored: (i32, i32, i32, f64) = sqlx::query_as(
        "SELECT retry_min_minutes, retry_max_minutes, retry_max_count,
                extract(epoch FROM valid_until - emulator_now())::float8 / 3600
         FROM infobip_messages WHERE bulk_id = 'clamped'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((stored.0, stored.1, stored.2), (5, 60, 4));
    assert!((47.9..=48.0).contains(&stored.3), "validity {} h", stored.3);
}

#[tokio::test]
async fn twenty_thousand_destinations_are_accepted_and_stored_before_the_answer() {
    let app = spawn_app().await;
    let scenario = app.scenario(menu()).await;
    let destinations: Vec<Value> = (0..20_000).map(|i| json!({"to": format!("4179{i:07}")})).collect();
    let (status, body) = app
        .launch(json!({"bulkId": "big", "messages": [{"scenarioId": scenario, "destinations": destinations}]}))
        .await;
    assert_eq!((status, body["messages"].as_array().unwrap().len()), (200, 20_000));
    let stored: i64 = sqlx::query_scalar("SELECT count(DISTINCT message_id) FROM infobip_calls WHERE bulk_id = 'big'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 20_000);
    let too_many: Vec<Value> = (0..20_001).map(|i| json!({"to": format!("4179{i:07}")})).collect();
    let (status, body) = app
        .launch(json!({"messages": [{"scenarioId": scenario, "destinations": too_many}]}))
        .await;
    assert_eq!(
        (
            status,
            &body["requestError"]["serviceException"]["validationErrors"]["messages"]
        ),
        (400, &json!(["at most 20000 destinations in one request, not 20001"]))
    );
}

#[tokio::test]
async fn personas_make_the_reports_in_json_v2_v1_and_xml_and_each_is_pulled_once() {
    let app = spawn_app_with(worker_app()).await;
    let sink = Sink::accepting();
    let scenario = app.scenario(menu()).await;
    let numbers = [BUSY, NO_ANSWER, PRESSES_2, ANSWERS];
    let destinations: Vec<Value> = numbers
        .iter()
        .map(|to| json!({"to": to, "messageId": format!("v2-{to}")}))
        .collect();
    let mut message = json!({"scenarioId": scenario, "from": "38515507799", "destinations": destinations,
        "notifyUrl": format!("{}/v2", sink.url), "callbackData": "campaign-7", "parameters": {"name": "Ana"}});
    let (status, _) = app.launch(json!({"bulkId": "v2", "messages": [message.clone()]})).await;
    assert_eq!(status, 200);
    message["notifyUrl"] = json!(format!("{}/v1", sink.url));
    message["notifyContentVersion"] = json!(1);
    message["destinations"] = json!(
        numbers
            .iter()
            .map(|to| json!({"to": to, "messageId": format!("v1-{to}")}))
            .collect::<Vec<_>>()
    );
    app.launch(json!({"bulkId": "v1", "messages": [message.clone()]})).await;
    message["notifyUrl"] = json!(format!("{}/xml", sink.url));
    message["notifyContentVersion"] = json!(2);
    message["notifyContentType"] = json!("application/xml");
    message["destinations"] = json!(
        numbers
            .iter()
            .map(|to| json!({"to": to, "messageId": format!("xml-{to}")}))
            .collect::<Vec<_>>()
    );
    app.launch(json!({"bulkId": "xml", "messages": [message]})).await;

    assert!(wait_for(Duration::from_secs(15), || async { sink.acknowledged().len() >= 12 }).await);
    let received = sink.received();
    assert_eq!(received.len(), 12, "each report pushed once");
    let v2: Vec<Value> = received
        .iter()
        .filter(|r| r.path == "/v2")
        .map(|r| {
            assert_eq!(r.header("content-type").as_deref(), Some("application/json"));
            r.json()["results"][0].clone()
        })
        .collect();
    let by_to = |to: &str| v2.iter().find(|report| report["to"] == to).unwrap().clone();
    let fate = |report: &Value| {
        (
            report["status"]["groupName"].as_str().unwrap().to_owned(),
            report["status"]["id"].as_i64().unwrap(),
            report["error"]["name"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(fate(&by_to(BUSY)), ("UNDELIVERABLE".into(), 9, "USER_BUSY".into()));
    assert_eq!(fate(&by_to(NO_ANSWER)), ("UNDELIVERABLE".into(), 9, "NO_ANSWER".into()));
    assert_eq!(fate(&by_to(PRESSES_2)), ("DELIVERED".into(), 5, "NORMAL_HANGUP".into()));
    let pressed = by_to(PRESSES_2);
    assert_eq!(pressed["voiceCall"]["dtmfCodes"], "2");
    assert_eq!(pressed["voiceCall"]["ivr"]["collectedDtmfs"], r#"{"choice":"2"}"#);
    assert_eq!(pressed["voiceCall"]["ivr"]["scenarioId"], scenario.as_str());
    assert_eq!(
        (
            pressed["callbackData"].as_str(),
            pressed["bulkId"].as_str(),
            pressed["messageId"].as_str(),
            pressed["from"].as_str()
        ),
        (
            Some("campaign-7"),
            Some("v2"),
            Some("v2-41793026003"),
            Some("38515507799")
        )
    );
    // Answered, pressed nothing: an empty string; busy: no DTMF at all.
    assert_eq!(by_to(ANSWERS)["voiceCall"]["dtmfCodes"], "");
    assert!(by_to(BUSY)["voiceCall"].get("dtmfCodes").is_none());

    let v1: Vec<Value> = received
        .iter()
        .filter(|r| r.path == "/v1")
        .map(|r| r.json()["results"][0].clone())
        .collect();
    let pressed_v1 = v1.iter().find(|report| report["to"] == PRESSES_2).unwrap();
    assert_eq!(
        (pressed_v1["dtmfCodes"].as_str(), pressed_v1.get("voiceCall")),
        (Some("2"), None)
    );
    assert_eq!(pressed_v1["status"]["name"], "DELIVERED_TO_HANDSET");

    let xml: Vec<String> = received
        .iter()
        .filter(|r| r.path == "/xml")
        .map(|r| {
            assert_eq!(r.header("content-type").as_deref(), Some("application/xml"));
            String::from_utf8(r.body.clone()).unwrap()
        })
        .collect();
    let busy_xml = xml.iter().find(|body| body.contains("<to>41793026001</to>")).unwrap();
    assert!(busy_xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><reportResponse><results><result><bulkId>xml</bulkId><callbackData>campaign-7</callbackData>"), "{busy_xml}");
    assert!(busy_xml.contains("<name>USER_BUSY</name>"));

    // The pull hands out each of the 12 once, oldest first, filtered by bulk id.
    let (_, pulled) = app
        .infobip_json(reqwest::Method::GET, "/infobip/voice/1/reports?bulkId=v1&limit=3", None)
        .await;
    assert_eq!(pulled["results"].as_array().unwrap().len(), 3);
    let (_, rest) = app
        .infobip_json(reqwest::Method::GET, "/infobip/voice/1/reports?limit=1000", None)
        .await;
    assert_eq!(rest["results"].as_array().unwrap().len(), 9);
    let (_, none) = app
        .infobip_json(reqwest::Method::GET, "/infobip/voice/1/reports", None)
        .await;
    assert_eq!(none, json!({"results": []}));
}

#[tokio::test]
async fn retries_climb_the_ladder_and_validity_expires_as_the_clock_moves() {
    let app = spawn_app_with(worker_app()).await;
    let scenario = app.scenario(menu()).await;
    // Busy three times: the first call and two retries, 1 then 2 minutes apart.
    let (status, _) = app
        .launch(
            json!({"bulkId": "retried", "messages": [{"scenarioId": scenario, "destinations": [{"to": BUSY}],
            "retry": {"minPeriod": 1, "maxPeriod": 2, "maxCount": 2}}]}),
        )
        .await;
    assert_eq!(status, 200);
    let waiting = app.calls_when("retried", "pending", 1).await;
    assert!(
        wait_for(Duration::from_secs(10), || async {
            let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM infobip_calls WHERE bulk_id = 'retried'")
                .fetch_one(&app.pool)
                .await
                .unwrap();
            attempts == 1
        })
        .await,
        "{waiting:?}"
    );
    // Well short of the minute: real time passes too while the test runs.
    app.advance_clock("50s").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let attempts = |bulk: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>("SELECT attempts FROM infobip_calls WHERE bulk_id = $1")
                .bind(bulk)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(attempts("retried").await, 1, "not due before a minute");
    app.advance_clock("12s").await;
    assert!(wait_for(Duration::from_secs(10), || async { attempts("retried").await == 2 }).await);
    app.advance_clock("2m").await;
    let done = app.calls_when("retried", "undeliverable", 1).await;
    assert_eq!(
        (done[0]["attempts"].as_i64(), done[0]["last_error"].as_str()),
        (Some(3), Some("USER_BUSY"))
    );

    // A validity shorter than the retry wait: the call expires at its end.
    app.launch(
        json!({"bulkId": "expiring", "messages": [{"scenarioId": scenario, "destinations": [{"to": NO_ANSWER}],
        "validityPeriod": 2, "retry": {"minPeriod": 10, "maxPeriod": 10, "maxCount": 4}}]}),
    )
    .await;
    assert!(wait_for(Duration::from_secs(10), || async { attempts("expiring").await == 1 }).await);
    app.advance_clock("2m").await;
    let expired = app.calls_when("expiring", "expired", 1).await;
    assert_eq!(expired[0]["attempts"], 2, "the claim that found it expired");
    let reports = app
        .admin_json(reqwest::Method::GET, "/infobip/reports?bulk_id=expiring&wait=5s", None)
        .await;
    let report = &reports["items"][0]["report"];
    assert_eq!(
        (report["status"]["name"].as_str(), report["error"]["name"].as_str()),
        (Some("EXPIRED_EXPIRED"), Some("NO_ANSWER"))
    );

    // Scheduled an hour ahead: nothing until the clock gets there.
    let send_at = (chrono::Utc::now() + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S%.3f%z")
        .to_string();
    app.launch(
        json!({"bulkId": "scheduled", "messages": [{"scenarioId": scenario, "destinations": [{"to": ANSWERS}],
        "sendAt": send_at}]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(attempts("scheduled").await, 0);
    app.advance_clock("1h").await;
    let delivered = app.calls_when("scheduled", "delivered", 1).await;
    assert_eq!(delivered[0]["attempts"], 1);
}

#[tokio::test]
async fn a_scenario_request_reaches_the_hook_and_queues_the_welcome_sms() {
    let app = spawn_app_with(worker_app()).await;
    let hook = format!("{}/v1/ivr?key={ACME_KEY}&from=%2B${{to}}&to=%2B${{from}}", app.address);
    let scenario = app
        .scenario(json!([{"say": "One moment"}, {"request": hook, "saveResponse": "twiml"}, {"hangup": "done"}]))
        .await;
    let (status, _) = app
        .launch(
            json!({"bulkId": "hooked", "messages": [{"scenarioId": scenario, "from": ACME_SF.trim_start_matches('+'),
            "destinations": [{"to": "14155550142"}]}]}),
        )
        .await;
    assert_eq!(status, 200);
    let delivered = app.calls_when("hooked", "delivered", 1).await;
    let steps = &delivered[0]["transcript"]["steps"];
    assert_eq!(steps[1]["kind"], "request");
    assert_eq!(steps[1]["status"], 200);
    let caller: String = sqlx::query_scalar("SELECT to_number::text FROM sms_outbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(caller, "+14155550142");
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_launch_loses_and_repeats_nothing() {
    // The gateway serves without background work; the dialer runs beside it, stopped and started again.
    let app = spawn_app().await;
    let sink = Sink::accepting();
    let scenario = app.scenario(menu()).await;
    let destinations: Vec<Value> = (0..40).map(|i| json!({"to": format!("4179300{i:04}")})).collect();
    let (status, _) = app
        .launch(
            json!({"bulkId": "restarted", "messages": [{"scenarioId": scenario, "destinations": destinations,
            "notifyUrl": sink.url, "sendingSpeed": {"speed": 20, "timeUnit": "second"}}]}),
        )
        .await;
    assert_eq!(status, 200);
    let settings = worker_args(&[]).delivery_settings().unwrap();
    let done = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM infobip_calls WHERE status <> 'pending'")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    let run = |shutdown| {
        let notifications = ivr_gateway::platform::notifications::Notifications::start(app.pool.clone());
        ivr_gateway::startup::infobip_background(&app.pool, &settings, &notifications, shutdown)
    };
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let first = run(shutdown);
    assert!(wait_for(Duration::from_secs(10), || async { done().await >= 5 }).await);
    stop.send(true).unwrap();
    for task in first {
        task.await.unwrap();
    }
    let after_stop = done().await;
    assert!(
        after_stop < 40,
        "the launch was still going when stopped ({after_stop} done)"
    );

    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let _second = run(shutdown);
    assert!(wait_for(Duration::from_secs(15), || async { sink.acknowledged().len() >= 40 }).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut reported: Vec<String> = sink
        .received()
        .iter()
        .map(|r| r.json()["results"][0]["messageId"].as_str().unwrap().to_owned())
        .collect();
    reported.sort();
    reported.dedup();
    assert_eq!(
        (sink.received().len(), reported.len()),
        (40, 40),
        "each destination reported once"
    );
    let placed: Vec<i32> = sqlx::query_scalar("SELECT attempts FROM infobip_calls ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(placed, vec![1; 40], "each destination called once");
}

#[tokio::test]
async fn launches_are_live_events_with_their_calls_counted() {
    let app = spawn_app_with(worker_app()).await;
    let scenario = app.scenario(menu()).await;
    let (mut events, mut buffer) = crate::events::subscribe(&app).await;
    let (status, _) = app
        .launch(json!({"bulkId": "live", "messages": [{"scenarioId": scenario, "destinations": [{"to": BUSY}, {"to": ANSWERS}]}]}))
        .await;
    assert_eq!(status, 200);
    // Frames come as calls are stored, claimed and ended; the last one counts both ended.
    let mut last = Value::Null;
    for _ in 0..10 {
        let frames = crate::events::next_frames_of(&mut events, &mut buffer, 1, &["infobip"]).await;
        last = frames[0].1.clone();
        if last["pending"] == 0 {
            break;
        }
    }
    assert_eq!(
        (
            last["bulk_id"].as_str(),
            last["account"].as_str(),
            last["calls"].as_i64()
        ),
        (Some("live"), Some("acme"), Some(2))
    );
    assert_eq!(
        (last["delivered"].as_i64(), last["undeliverable"].as_i64()),
        (Some(1), Some(1))
    );
}

#[tokio::test]
async fn the_cli_reads_advances_and_speeds_up_the_clock() {
    let app = spawn_app_with(TestSettings {
        admin_token: Some("clock-token"),
        ..Default::default()
    })
    .await;
    let run = |args: &[&str]| {
        let mut command = tokio::process::Command::new(binary());
        command
            .arg("clock")
            .args(args)
            .args(["--url", &app.address])
            .env("IVR_ADMIN_TOKEN", "clock-token");
        command.output()
    };
    let output = run(&["advance", "90m"]).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let clock: Value = serde_json::from_slice(&output.stdout).unwrap();
    let ahead = clock["ahead_seconds"].as_f64().unwrap();
    assert!((5399.0..5402.0).contains(&ahead), "{clock}");
    let output = run(&["speed", "60"]).await.unwrap();
    let clock: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(clock["speed"], 60.0);
    let output = run(&["show"]).await.unwrap();
    let clock: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(clock["ahead_seconds"].as_f64().unwrap() >= ahead);
    let output = run(&["advance", "soon"]).await.unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("Must be a duration of at most 366d"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Reset puts it back to real time.
    app.client
        .post(format!("{}/admin/reset", app.address))
        .bearer_auth("clock-token")
        .send()
        .await
        .unwrap();
    let clock: Value = serde_json::from_slice(&run(&["show"]).await.unwrap().stdout).unwrap();
    assert_eq!(
        (
            clock["speed"].as_f64(),
            clock["ahead_seconds"].as_f64().map(f64::abs).map(|a| a < 1.0)
        ),
        (Some(1.0), Some(true))
    );
}

#[tokio::test]
async fn racing_pulls_hand_out_each_report_once() {
    let app = spawn_app_with(worker_app()).await;
    let scenario = app.scenario(menu()).await;
    let destinations: Vec<Value> = (0..40).map(|i| json!({"to": format!("4179400{i:04}")})).collect();
    let (status, _) = app
        .launch(json!({"bulkId": "pulled", "messages": [{"scenarioId": scenario, "destinations": destinations}]}))
        .await;
    assert_eq!(status, 200);
    app.calls_when("pulled", "delivered", 40).await;
    let puller = || async {
        let mut ids = Vec::new();
        loop {
            let (_, pulled) = app
                .infobip_json(reqwest::Method::GET, "/infobip/voice/1/reports?limit=7", None)
                .await;
            let results = pulled["results"].as_array().unwrap().clone();
            if results.is_empty() {
                return ids;
            }
            ids.extend(results.iter().map(|r| r["messageId"].as_str().unwrap().to_owned()));
        }
    };
    let (a, b, c, d) = tokio::join!(puller(), puller(), puller(), puller());
    let mut all: Vec<String> = [a, b, c, d].concat();
    let pulled = all.len();
    all.sort();
    all.dedup();
    assert_eq!((pulled, all.len()), (40, 40), "every report once, none twice");
}
