//! docs/instaply-messaging.md: threads, the Bot API, webhooks, the legacy
//! hook, deliveries, and the loop from a call's welcome SMS to a bot's reply.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::helpers::*;
use crate::sink::{Reply, Sink};

const ACME_BOT: &str = "acme-bot-token-0001";
const GLOBEX_BOT: &str = "globex-bot-token-0001";
const CUSTOMER: &str = "+14155550111";

impl TestApp {
    /// A request with an optional `token` and JSON body; the answer as (status, JSON).
    async fn api(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.header("token", token);
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

    /// Plays the customer: a message from `from` to the business number `to`.
    async fn customer_says(&self, from: &str, to: &str, text: &str, channel: &str) -> Value {
        let (status, body) = self
            .api(
                Method::POST,
                "/admin/customer-messages",
                None,
                Some(json!({"from": from, "to": to, "text": text, "channel": channel})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn send(&self, token: &str, body: Value) -> (u16, Value) {
        self.api(
            Method::POST,
            "/api/send-message-to-customer-thread",
            Some(token),
            Some(body),
        )
        .await
    }

    /// Delivers what is due in the event outbox, once, with a worker of the test's own.
    async fn deliver_events(&self) {
        let settings = worker_args(&["--webhook-retry-base", "10ms"])
            .delivery_settings()
            .unwrap();
        let worker = ivr_gateway::surfaces::instaply_messaging::worker(
            self.pool.clone(),
            &settings,
            ivr_gateway::surfaces::instaply_messaging::metrics::counters(),
        );
        let (_keep, mut shutdown) = watch::channel(false);
        worker.run_batch(&mut shutdown).await.unwrap();
    }

    async fn webhook(&self, token: &str, url: &str, events: &[&str], headers: Value) -> i64 {
        let (status, body) = self
            .api(
                Method::POST,
                "/api/webhooks/",
                Some(token),
                Some(json!({"url": url, "subscribedEvents": events, "extraHeaders": headers})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["id"].as_i64().unwrap()
    }
}

fn thread_id(answer: &Value) -> i64 {
    answer["customerThreadId"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_welcome_sms_lands_in_the_callers_sms_thread_and_fires_a_message_event() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    app.webhook(
        ACME_BOT,
        &format!("{}/bot", sink.url),
        &["messages"],
        json!([{"name": "Authorization", "value": "Bearer s3cret"}]),
    )
    .await;
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);

    // The mirror runs in the background: wait for the thread.
    let found = wait_for(Duration::from_secs(10), || async {
        let (_, threads) = app
            .api(
                Method::GET,
                &format!("/admin/threads?customer={}", encode(CALLER)),
                None,
                None,
            )
            .await;
        threads["items"].as_array().is_some_and(|items| !items.is_empty())
    })
    .await;
    assert!(found, "the welcome SMS was mirrored into a thread");
    let (_, threads) = app
        .api(
            Method::GET,
            &format!("/admin/threads?customer={}", encode(CALLER)),
            None,
            None,
        )
        .await;
    let thread = &threads["items"][0];
    assert_eq!(
        (thread["channel"].as_str(), thread["business_name"].as_str()),
        (Some("SMS"), Some("Acme San Francisco"))
    );
    let (_, detail) = app
        .api(Method::GET, &format!("/admin/threads/{}", thread["id"]), None, None)
        .await;
    assert_eq!(detail["messages"][0]["body"], "Hi from Acme SF! Reply here to chat.");
    assert_eq!(detail["messages"][0]["sender"], "welcome");

    app.deliver_events().await;
    let received = sink.received();
    assert_eq!(received.len(), 1);
    let event = received[0].json();
    assert_eq!(event["eventType"], "message");
    assert_eq!(event["data"]["fromCustomer"], false);
    assert_eq!(event["data"]["customerThreadId"], thread["id"]);
    assert_eq!(event["data"]["messageBody"], "Hi from Acme SF! Reply here to chat.");
    assert_eq!(received[0].header("authorization").as_deref(), Some("Bearer s3cret"));
    assert_eq!(received[0].header("content-type").as_deref(), Some("application/json"));
}

#[tokio::test]
async fn the_whole_loop_call_welcome_customer_reply_bot_answer() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    app.webhook(ACME_BOT, &sink.url, &["messages"], json!([])).await;
    let said = app
        .customer_says(CUSTOMER, ACME_SF, "Do you have size 42?", "SMS")
        .await;
    let thread = thread_id(&said);
    app.deliver_events().await;
    let event = sink.received()[0].json();
    assert_eq!(
        (
            event["data"]["fromCustomer"].as_bool(),
            event["data"]["messageBody"].as_str()
        ),
        (Some(true), Some("Do you have size 42?"))
    );
    assert_eq!(event["data"]["customerId"], said["customerId"]);

    // The bot answers the thread the event named.
    let (status, sent) = app
        .send(
            ACME_BOT,
            json!({"text": "Yes, in store!", "customerThreadId": event["data"]["customerThreadId"]}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["customerThreadId"], thread.to_string());
    let (_, detail) = app
        .api(Method::GET, &format!("/admin/threads/{thread}"), None, None)
        .await;
    let bodies: Vec<&str> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Do you have size 42?", "Yes, in store!"]);
    assert_eq!(detail["status"], "replied");
    assert_eq!(detail["messages"][1]["id"], sent["messageId"]);
}

#[tokio::test]
async fn a_thread_of_another_business_or_tenant_is_404_with_the_same_body() {
    let app = spawn_app().await;
    let thread = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hello", "SMS").await);
    let expected = json!({"customerThreadId": format!("No customer thread with id {thread}")});
    for (token, body) in [
        (GLOBEX_BOT, json!({"text": "hi", "customerThreadId": thread})),
        (ACME_BOT, json!({"text": "hi", "customerThreadId": 999_999})),
    ] {
        let (status, answer) = app.send(token, body.clone()).await;
        let missing = body["customerThreadId"].as_i64().unwrap();
        let expected = json!({"customerThreadId": format!("No customer thread with id {missing}")});
        assert_eq!((status, answer), (404, expected), "{token}");
    }
    let (status, answer) = app
        .api(
            Method::GET,
            &format!("/api/get-customer-thread-details?customerThreadId={thread}"),
            Some(GLOBEX_BOT),
            None,
        )
        .await;
    assert_eq!((status, answer), (404, expected));
    let (_, said) = app
        .api(Method::GET, &format!("/admin/threads/{thread}"), None, None)
        .await;
    assert_eq!(said["messages"].as_array().unwrap().len(), 1, "nothing was written");
}

#[tokio::test]
async fn a_missing_or_unknown_token_is_401() {
    let app = spawn_app().await;
    for token in [None, Some("no-such-token"), Some("")] {
        let (status, body) = app
            .api(
                Method::GET,
                "/api/get-customer-thread-details?customerThreadId=1",
                token,
                None,
            )
            .await;
        assert_eq!(
            (status, body),
            (401, json!({"token": "Missing or invalid token"})),
            "{token:?}"
        );
    }
}

#[tokio::test]
async fn the_whatsapp_window_refuses_free_text_when_closed_but_not_templates_or_internal_notes() {
    let app = spawn_app().await;
    let thread = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hola", "WHATSAPP").await);
    let details = format!("/api/get-customer-thread-details?customerThreadId={thread}");
    let (_, open) = app.api(Method::GET, &details, Some(ACME_BOT), None).await;
    assert_eq!(
        open,
        json!({"customerChannel": "WHATSAPP", "status": "waiting", "isMessagingWindowOpen": true})
    );
    assert_eq!(
        app.send(
            ACME_BOT,
            json!({"text": "within the window", "customerThreadId": thread.to_string()})
        )
        .await
        .0,
        200
    );

    // 25 hours later.
    sqlx::query("UPDATE customer_threads SET last_customer_message_at = now() - interval '25 hours' WHERE id = $1")
        .bind(thread)
        .execute(&app.pool)
        .await
        .unwrap();
    let (_, closed) = app.api(Method::GET, &details, Some(ACME_BOT), None).await;
    assert_eq!(closed["isMessagingWindowOpen"], false);
    let (status, refused) = app
        .send(ACME_BOT, json!({"text": "too late", "customerThreadId": thread}))
        .await;
    assert_eq!(status, 409);
    assert!(
        refused["text"].as_str().unwrap().contains("window is closed"),
        "{refused}"
    );
    let (status, _) = app
        .send(
            ACME_BOT,
            json!({"text": "note to self", "customerThreadId": thread, "internal": true}),
        )
        .await;
    assert_eq!(status, 200, "internal notes are always allowed");
    let (status, sent) = app
        .send(
            ACME_BOT,
            json!({"contentSid": "HXdf71e8696fbd234e0115c69a542cb1", "customerThreadId": thread}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    let (status, unknown) = app
        .send(ACME_BOT, json!({"contentSid": "HXnope", "customerThreadId": thread}))
        .await;
    assert_eq!(
        (status, unknown),
        (400, json!({"contentSid": "No template with contentSid 'HXnope'"}))
    );
    let (_, detail) = app
        .api(Method::GET, &format!("/admin/threads/{thread}"), None, None)
        .await;
    let last = detail["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["content_sid"], "HXdf71e8696fbd234e0115c69a542cb1");
    assert!(
        last["body"]
            .as_str()
            .unwrap()
            .starts_with("Sorry we could not answer sooner")
    );
    let (_, templates) = app
        .api(
            Method::GET,
            &format!("/api/get-whatsapp-templates?customerThreadId={thread}"),
            Some(ACME_BOT),
            None,
        )
        .await;
    assert_eq!(
        templates["templates"][0]["contentSid"],
        "HXdf71e8696fbd234e0115c69a542cb1"
    );
}

#[tokio::test]
async fn bad_bodies_name_the_field() {
    let app = spawn_app().await;
    let thread = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await);
    let cases = [
        (
            json!({"customerThreadId": thread}),
            json!({"text": "Exactly one of text and contentSid must be given"}),
        ),
        (
            json!({"text": "a", "contentSid": "HX1", "customerThreadId": thread}),
            json!({"text": "Exactly one of text and contentSid must be given"}),
        ),
        (
            json!({"text": 5, "customerThreadId": thread}),
            json!({"text": "Expected a string"}),
        ),
        (
            json!({"text": "a", "customerThreadId": true}),
            json!({"customerThreadId": "Expected a customer thread id: a positive integer, as a number or a string"}),
        ),
        (json!({"text": "a"}), json!({"customerThreadId": "Missing parameter"})),
        (
            json!({"text": "a", "customerThreadId": "1; DROP TABLE messages"}),
            json!({"customerThreadId": "Expected a customer thread id: a positive integer, as a number or a string"}),
        ),
        (
            json!({"text": "a", "customerThreadId": thread, "internal": "yes"}),
            json!({"internal": "Expected true or false"}),
        ),
        (
            json!(["not", "an", "object"]),
            json!({"body": "Expected a JSON object"}),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(app.send(ACME_BOT, body.clone()).await, (400, expected), "{body}");
    }
    let malformed = app
        .client
        .post(format!("{}/api/send-message-to-customer-thread", app.address))
        .header("token", ACME_BOT)
        .body("{\"text\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = serde_json::from_str(&malformed.text().await.unwrap()).unwrap();
    assert!(body["body"].as_str().unwrap().starts_with("Invalid JSON: "), "{body}");
    let huge = json!({"text": "x".repeat(70_000), "customerThreadId": thread});
    assert_eq!(app.send(ACME_BOT, huge).await.0, 413);
    let unicode = json!({"text": "Ça marche 👍 <b>&amp;</b> ' OR 1=1 --", "customerThreadId": thread});
    assert_eq!(app.send(ACME_BOT, unicode).await.0, 200);
    let (_, detail) = app
        .api(Method::GET, &format!("/admin/threads/{thread}"), None, None)
        .await;
    assert_eq!(detail["messages"][1]["body"], "Ça marche 👍 <b>&amp;</b> ' OR 1=1 --");
}

#[tokio::test]
async fn thread_status_takes_the_three_values_only() {
    let app = spawn_app().await;
    let thread = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await);
    let (status, body) = app
        .api(
            Method::POST,
            "/api/update-thread-status",
            Some(ACME_BOT),
            Some(json!({"customerThreadId": thread.to_string(), "status": "resolved"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"customerThreadId": thread.to_string(), "status": "resolved"})
        )
    );
    let (_, details) = app
        .api(
            Method::GET,
            &format!("/api/get-customer-thread-details?customerThreadId={thread}"),
            Some(ACME_BOT),
            None,
        )
        .await;
    assert_eq!(details["status"], "resolved");
    let (status, body) = app
        .api(
            Method::POST,
            "/api/update-thread-status",
            Some(ACME_BOT),
            Some(json!({"customerThreadId": thread, "status": "closed"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (400, json!({"status": "Must be one of: waiting, replied, resolved"}))
    );
}

#[tokio::test]
async fn events_are_retried_after_a_500_and_never_resent_after_a_200() {
    let app = spawn_app().await;
    let sink = Sink::start(|_, index| {
        if index == 0 {
            Reply::Status(500)
        } else {
            Reply::Status(200)
        }
    });
    app.webhook(ACME_BOT, &sink.url, &["messages"], json!([])).await;
    app.customer_says(CUSTOMER, ACME_SF, "once", "SMS").await;
    app.deliver_events().await;
    assert_eq!(sink.received().len(), 1);
    // Due again after the retry delay.
    let delivered = wait_for(Duration::from_secs(10), || async {
        app.deliver_events().await;
        sink.acknowledged().len() == 1
    })
    .await;
    assert!(delivered);
    for _ in 0..3 {
        app.deliver_events().await;
    }
    let received = sink.received();
    assert_eq!(received.len(), 2, "not resent after the 200");
    assert_eq!(
        received[0].header("x-delivery-id"),
        received[1].header("x-delivery-id"),
        "a stable id per delivery"
    );
    assert_eq!(received[0].body, received[1].body);
    let (_, deliveries) = app
        .api(Method::GET, "/admin/deliveries?status=delivered", None, None)
        .await;
    let attempts = &deliveries["items"][0]["attempt_log"];
    assert_eq!(
        (attempts[0]["http_status"].as_i64(), attempts[0]["outcome"].as_str()),
        (Some(500), Some("retry"))
    );
    assert_eq!(
        (attempts[1]["http_status"].as_i64(), attempts[1]["outcome"].as_str()),
        (Some(200), Some("delivered"))
    );
    assert_eq!(deliveries["items"][0]["header_names"], json!([]));
}

#[tokio::test]
async fn the_legacy_hook_gets_the_flat_payload_of_visible_messages_only() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    let (status, _) = app
        .api(
            Method::POST,
            "/api/update-hook-url",
            Some(ACME_BOT),
            Some(json!({"url": format!("{}/legacy", sink.url)})),
        )
        .await;
    assert_eq!(status, 200);
    let thread = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await);
    app.send(
        ACME_BOT,
        json!({"text": "internal", "customerThreadId": thread, "internal": true}),
    )
    .await;
    app.deliver_events().await;
    let received = sink.received();
    assert_eq!(received.len(), 1, "the internal note is not sent to the legacy hook");
    let payload = received[0].json();
    assert_eq!(received[0].path, "/legacy");
    assert!(payload.get("eventType").is_none());
    assert_eq!(
        (payload["messageBody"].as_str(), payload["fromCustomer"].as_bool()),
        (Some("hi"), Some(true))
    );
    assert_eq!(payload["customerThreadId"], thread);
    let (status, body) = app
        .api(
            Method::POST,
            "/api/update-hook-url",
            Some(ACME_BOT),
            Some(json!({"url": "ftp://example.com"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (400, json!({"url": "Expected an absolute http:// or https:// URL"}))
    );
}

#[tokio::test]
async fn webhooks_are_created_listed_updated_and_deleted_per_organization() {
    let app = spawn_app().await;
    let id = app
        .webhook(
            ACME_BOT,
            "https://example.com/hook",
            &["messages", "transfers"],
            json!([{"name": "X-Key", "value": "v"}]),
        )
        .await;
    let expected = json!({"id": id, "url": "https://example.com/hook", "enabled": true,
        "subscribedEvents": ["messages", "transfers"], "extraHeaders": [{"name": "X-Key", "value": "v"}]});
    assert_eq!(
        app.api(Method::GET, &format!("/api/webhooks/{id}"), Some(ACME_BOT), None)
            .await,
        (200, expected.clone())
    );
    assert_eq!(
        app.api(Method::GET, "/api/webhooks/", Some(ACME_BOT), None).await,
        (200, json!([expected]))
    );
    assert_eq!(
        app.api(Method::GET, "/api/webhooks/", Some(GLOBEX_BOT), None).await,
        (200, json!([]))
    );
    let (status, _) = app
        .api(Method::GET, &format!("/api/webhooks/{id}"), Some(GLOBEX_BOT), None)
        .await;
    assert_eq!(status, 404, "another organization's webhook does not exist for Globex");

    let (status, updated) = app
        .api(
            Method::POST,
            &format!("/api/webhooks/{id}/update"),
            Some(ACME_BOT),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (updated["enabled"].as_bool(), updated["url"].as_str()),
        (Some(false), Some("https://example.com/hook"))
    );
    for (body, expected) in [
        (
            json!({"subscribedEvents": []}),
            json!({"subscribedEvents": "Subscribe to at least one event"}),
        ),
        (
            json!({"subscribedEvents": ["calls"]}),
            json!({"subscribedEvents": "Expected event names among messages, transfers"}),
        ),
        (
            json!({"url": "not a url"}),
            json!({"url": "Not a URL: relative URL without a base"}),
        ),
        (
            json!({"extraHeaders": [{"name": "Bad Header", "value": "x"}]}),
            json!({"extraHeaders": "Header 0: 'Bad Header' is not a valid header name"}),
        ),
        (json!({"enabled": "no"}), json!({"enabled": "Expected true or false"})),
    ] {
        assert_eq!(
            app.api(
                Method::POST,
                &format!("/api/webhooks/{id}/update"),
                Some(ACME_BOT),
                Some(body.clone())
            )
            .await,
            (400, expected),
            "{body}"
        );
    }
    let (status, missing) = app
        .api(Method::POST, "/api/webhooks/", Some(ACME_BOT), Some(json!({})))
        .await;
    assert_eq!(
        (status, missing),
        (
            400,
            json!({"url": "Missing parameter", "subscribedEvents": "Missing parameter"})
        )
    );
    assert_eq!(
        app.api(
            Method::POST,
            &format!("/api/webhooks/{id}/delete"),
            Some(ACME_BOT),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.api(Method::GET, &format!("/api/webhooks/{id}"), Some(ACME_BOT), None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_disabled_or_unsubscribed_webhook_gets_nothing() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    let id = app
        .webhook(ACME_BOT, &format!("{}/off", sink.url), &["messages"], json!([]))
        .await;
    app.api(
        Method::POST,
        &format!("/api/webhooks/{id}/update"),
        Some(ACME_BOT),
        Some(json!({"enabled": false})),
    )
    .await;
    app.webhook(ACME_BOT, &format!("{}/transfers", sink.url), &["transfers"], json!([]))
        .await;
    app.webhook(GLOBEX_BOT, &format!("{}/globex", sink.url), &["messages"], json!([]))
        .await;
    app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await;
    app.deliver_events().await;
    assert!(
        sink.received().is_empty(),
        "{:?}",
        sink.received().iter().map(|r| r.path.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_transfer_moves_the_thread_and_fires_the_transfer_event() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    app.webhook(ACME_BOT, &sink.url, &["transfers"], json!([])).await;
    let thread = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await);
    let (status, moved) = app
        .api(
            Method::POST,
            &format!("/admin/threads/{thread}/transfer"),
            None,
            Some(json!({"to": ACME_OAKLAND})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    app.deliver_events().await;
    let event = sink.received()[0].json();
    assert_eq!(event["eventType"], "transfer");
    assert_eq!(
        event["data"]["customerThreadId"],
        thread.to_string(),
        "a string in transfer events"
    );
    assert_eq!(event["data"]["businessId"], app.store_id("Acme Oakland").await);
    assert_eq!(
        event["data"]["previousBusinessId"],
        app.store_id("Acme San Francisco").await
    );
    let (status, refused) = app
        .api(
            Method::POST,
            &format!("/admin/threads/{thread}/transfer"),
            None,
            Some(json!({"to": GLOBEX_OPERA})),
        )
        .await;
    assert_eq!(status, 404, "another tenant's number: {refused}");
}

#[tokio::test]
async fn concurrent_sends_to_one_thread_keep_every_message() {
    let app = spawn_app().await;
    let thread = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await);
    let sends = (0..40).map(|n| {
        let app = &app;
        async move {
            app.send(
                ACME_BOT,
                json!({"text": format!("message {n}"), "customerThreadId": thread}),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|(status, _)| *status == 200));
    let mut ids: Vec<i64> = answers
        .iter()
        .map(|(_, body)| body["messageId"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    let (_, detail) = app
        .api(Method::GET, &format!("/admin/threads/{thread}"), None, None)
        .await;
    assert_eq!(detail["messages"].as_array().unwrap().len(), 41);
}

#[tokio::test]
async fn a_customer_profile_is_visible_to_users_who_see_one_of_their_threads() {
    let app = spawn_app().await;
    let said = app.customer_says(CUSTOMER, ACME_SF, "hi", "WHATSAPP").await;
    let customer = said["customerId"].as_str().unwrap();
    let (status, profile) = app
        .api(
            Method::GET,
            &format!("/api/customers/{customer}/profile"),
            Some(ACME_BOT),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            profile["id"].as_str(),
            profile["phoneNumber"].as_str(),
            profile["channel"].as_str(),
            profile["type"].as_str()
        ),
        (Some(customer), Some(CUSTOMER), Some("WHATSAPP"), Some("prospect"))
    );
    let (status, hidden) = app
        .api(
            Method::GET,
            &format!("/api/customers/{customer}/profile"),
            Some(GLOBEX_BOT),
            None,
        )
        .await;
    assert_eq!(
        (status, hidden),
        (404, json!({"customerId": format!("No customer with id {customer}")}))
    );
}

#[tokio::test]
async fn deliveries_can_be_waited_for_and_redelivered() {
    let app = spawn_app().await;
    let sink = Sink::start(|_, _| Reply::Status(410));
    app.webhook(ACME_BOT, &sink.url, &["messages"], json!([])).await;
    let waiting = {
        let app = app.replica();
        tokio::spawn(async move {
            app.api(Method::GET, "/admin/deliveries?status=failed&wait=10s", None, None)
                .await
        })
    };
    app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await;
    app.deliver_events().await;
    let (status, failed) = waiting.await.unwrap();
    assert_eq!(status, 200);
    let delivery = &failed["items"][0];
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_i64()),
        (Some("failed"), Some(1))
    );
    sink.rescript(|_, _| Reply::Status(200));
    let (status, requeued) = app
        .api(
            Method::POST,
            &format!("/admin/deliveries/{}/redeliver", delivery["id"].as_str().unwrap()),
            None,
            None,
        )
        .await;
    assert_eq!((status, requeued["status"].as_str()), (200, Some("queued")));
    app.deliver_events().await;
    assert_eq!(sink.acknowledged().len(), 1);
    let (status, _) = app
        .api(Method::POST, "/admin/deliveries/not-a-uuid/redeliver", None, None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn fixtures_refuse_an_unknown_business_and_a_bad_template_naming_the_line() {
    let bad_business = "[[organizations]]\nname = \"A\"\n[[organizations.stores]]\nname = \"S\"\n[[organizations.users]]\nname = \"U\"\nbusinesses = [\"Nope\"]\n";
    let refused = ivr_gateway::control::fixtures::Fixtures::from_toml(
        bad_business,
        ivr_gateway::platform::domain::PhoneValidation::Possible,
    )
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "line 7: 'Nope' is not a store of this organization"
    );
    let bad_template = "[[organizations]]\nname = \"A\"\n[[organizations.templates]]\ntitle = \"t\"\ntext = \"x\"\ncontent_sid = \"XX1\"\n";
    let refused = ivr_gateway::control::fixtures::Fixtures::from_toml(
        bad_template,
        ivr_gateway::platform::domain::PhoneValidation::Possible,
    )
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "line 6: content_sid 'XX1': expected HX followed by letters and digits"
    );
}

#[tokio::test]
async fn subscribers_see_messages_and_every_delivery_status_change() {
    let app = spawn_app().await;
    let sink = Sink::accepting();
    app.webhook(
        ACME_BOT,
        &sink.url,
        &["messages"],
        json!([{"name": "Authorization", "value": "Bearer hidden"}]),
    )
    .await;
    let (mut body, mut buffer) = crate::events::subscribe(&app).await;
    let said = app.customer_says(CUSTOMER, ACME_SF, "live?", "SMS").await;
    let mut frames = crate::events::next_frames_of(&mut body, &mut buffer, 2, &["message", "delivery"]).await;
    frames.sort_by(|a, b| b.0.cmp(&a.0));
    assert_eq!(frames[0].0, "message");
    assert_eq!(
        (frames[0].1["body"].as_str(), frames[0].1["id"].as_i64()),
        (Some("live?"), said["messageId"].as_i64())
    );
    assert_eq!(
        (frames[1].0.as_str(), frames[1].1["status"].as_str()),
        ("delivery", Some("queued"))
    );
    assert!(!frames[1].1.to_string().contains("hidden"), "header values never shown");
    app.deliver_events().await;
    let frames = crate::events::next_frames_of(&mut body, &mut buffer, 1, &["delivery"]).await;
    assert_eq!(frames[0].1["status"], "delivered");
}

#[tokio::test]
async fn the_cli_plays_the_customer_through_the_admin_api() {
    let app = spawn_app_with(TestSettings {
        admin_token: Some("cli-token"),
        ..Default::default()
    })
    .await;
    let run = |args: Vec<String>, token: Option<&str>| {
        let mut command = tokio::process::Command::new(binary());
        command.arg("customer").args(args).env_remove("IVR_ADMIN_TOKEN");
        if let Some(token) = token {
            command.env("IVR_ADMIN_TOKEN", token);
        }
        command.output()
    };
    let send = |text: &str| {
        [
            "send",
            "--url",
            &app.address,
            "--from",
            CUSTOMER,
            "--to",
            ACME_SF,
            "--text",
            text,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let output = run(send("from the CLI"), Some("cli-token")).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    let thread = thread_id(&answer);
    let body: String = sqlx::query_scalar("SELECT body FROM messages WHERE id = $1")
        .bind(answer["messageId"].as_i64().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(body, "from the CLI");

    let transfer = [
        "transfer",
        "--url",
        &app.address,
        "--thread",
        &thread.to_string(),
        "--to",
        ACME_OAKLAND,
    ]
    .map(str::to_owned)
    .to_vec();
    let output = run(transfer, Some("cli-token")).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let store: i64 = sqlx::query_scalar("SELECT store_id FROM customer_threads WHERE id = $1")
        .bind(thread)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(store, app.store_id("Acme Oakland").await);

    let refused = run(send("no token"), None).await.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("401"), "{stderr}");
}

#[tokio::test]
async fn nul_characters_are_a_400_not_a_database_error() {
    let app = spawn_app().await;
    let thread = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await);
    let (status, body) = app
        .send(ACME_BOT, json!({"text": "a\u{0}b", "customerThreadId": thread}))
        .await;
    assert_eq!(
        (status, body),
        (400, json!({"text": "Must not contain the NUL character"}))
    );
    let (status, body) = app
        .api(
            Method::POST,
            "/api/update-hook-url",
            Some(ACME_BOT),
            Some(json!({"url": "http://x/\u{0}"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (400, json!({"url": "Must not contain control characters"}))
    );
    let (status, body) = app.api(Method::GET, "/admin/sms?to=%00%2B1", None, None).await;
    assert_eq!(
        (status, body),
        (400, json!({"to": "Must not contain the NUL character"}))
    );
}

#[tokio::test]
async fn sends_batched_together_each_get_their_own_outcome() {
    let app = spawn_app().await;
    let sms = thread_id(&app.customer_says(CUSTOMER, ACME_SF, "hi", "SMS").await);
    let whatsapp = thread_id(&app.customer_says("+14155550112", ACME_SF, "hola", "WHATSAPP").await);
    sqlx::query("UPDATE customer_threads SET last_customer_message_at = now() - interval '2 days' WHERE id = $1")
        .bind(whatsapp)
        .execute(&app.pool)
        .await
        .unwrap();
    let cases = [
        (ACME_BOT, json!({"text": "ok 1", "customerThreadId": sms}), 200),
        (GLOBEX_BOT, json!({"text": "hidden", "customerThreadId": sms}), 404),
        (ACME_BOT, json!({"text": "closed", "customerThreadId": whatsapp}), 409),
        (
            ACME_BOT,
            json!({"text": "note", "customerThreadId": whatsapp, "internal": true}),
            200,
        ),
        (
            ACME_BOT,
            json!({"contentSid": "HXdf71e8696fbd234e0115c69a542cb1", "customerThreadId": whatsapp}),
            200,
        ),
        (
            ACME_BOT,
            json!({"contentSid": "HXmissing", "customerThreadId": whatsapp}),
            400,
        ),
        (
            ACME_BOT,
            json!({"text": "missing thread", "customerThreadId": 987654}),
            404,
        ),
        (ACME_BOT, json!({"text": "ok 2", "customerThreadId": sms}), 200),
    ];
    // Sent at once, they share the writer's batches.
    let answers =
        futures_util::future::join_all(cases.iter().map(|(token, body, _)| app.send(token, body.clone()))).await;
    for ((_, body, expected), (status, answer)) in cases.iter().zip(&answers) {
        assert_eq!(status, expected, "{body}: {answer}");
        if *status == 200 {
            let stored: String = sqlx::query_scalar("SELECT body FROM messages WHERE id = $1")
                .bind(answer["messageId"].as_i64().unwrap())
                .fetch_one(&app.pool)
                .await
                .unwrap();
            let wanted = body["text"]
                .as_str()
                .map_or("Sorry we could not answer sooner", |text| text);
            assert!(stored.starts_with(wanted), "{stored} for {body}");
        }
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 2 + 4, "two customer messages and the four accepted sends");
}

#[tokio::test]
async fn two_replicas_mirror_every_welcome_sms_once() {
    let app = spawn_app().await;
    let replica = app.replica();
    let calls = (0..40).map(|n| {
        let target = if n % 2 == 0 { &app } else { &replica };
        async move { target.call(ACME_KEY, &format!("+1415777{n:04}"), ACME_SF).await }
    });
    for answer in futures_util::future::join_all(calls).await {
        answer.assert_twiml(DIAL_ACME_SF);
    }
    let mirrored = wait_for(Duration::from_secs(15), || async {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE sender = 'welcome'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        count == 40
    })
    .await;
    assert!(mirrored, "every welcome SMS reached its thread");
    let (threads, distinct_sms, queued): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM customer_threads), (SELECT count(DISTINCT sms_id) FROM messages),
                (SELECT count(*) FROM welcome_mirror_queue)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        (threads, distinct_sms, queued),
        (40, 40, 0),
        "one thread and one message per call, nothing left"
    );
}
