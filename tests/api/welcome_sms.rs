//! docs/ivr-hook.md §4: the welcome SMS, its text, opt-outs and the cool-down.

use std::time::Duration;

use ivr_gateway::platform::domain::PhoneValidation;
use ivr_gateway::surfaces::instaply_ivr::hook::HookRules;

use crate::helpers::*;

#[tokio::test]
async fn the_welcome_sms_goes_from_the_business_number_to_the_caller_with_the_context() {
    let app = spawn_app().await;
    app.get(&format!(
        "key={ACME_KEY}&from=%2B14151234560&to=%2B14151234567&context=OPT_IN"
    ))
    .await
    .assert_twiml(DIAL_ACME_SF);
    let call = app.last_call().await;
    let sms = sms(&app.pool, call.sms_id.unwrap()).await;
    assert_eq!((sms.from_number.as_str(), sms.to_number.as_str()), (ACME_SF, CALLER));
    assert_eq!(sms.body, "Hi from Acme SF! Reply here to chat.");
    assert_eq!(
        (sms.context.as_deref(), call.context.as_deref()),
        (Some("OPT_IN"), Some("OPT_IN"))
    );
    assert_eq!((sms.status.as_str(), sms.attempts), ("queued", 0));
}

#[tokio::test]
async fn the_body_falls_back_to_the_organization_then_the_default_template() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_OAKLAND)
        .await
        .assert_twiml(NO_FORWARDING);
    let sms_id = app.last_call().await.sms_id.unwrap();
    assert_eq!(
        sms(&app.pool, sms_id).await.body,
        "Thanks for calling Acme Oakland! Text us here any time."
    );

    app.call(GLOBEX_KEY, CALLER, GLOBEX_OPERA)
        .await
        .assert_twiml("<Response><Dial>+33142685301</Dial></Response>");
    let sms_id = app.last_call().await.sms_id.unwrap();
    assert_eq!(
        sms(&app.pool, sms_id).await.body,
        "Thanks for calling Globex Opéra! Reply to this message to chat with us."
    );
}

#[tokio::test]
async fn an_opted_out_caller_is_answered_but_not_texted() {
    let app = spawn_app().await;
    app.call(ACME_KEY, OPTED_OUT_CALLER, ACME_SF)
        .await
        .assert_twiml(DIAL_ACME_SF);
    let call = app.last_call().await;
    assert_eq!((call.sms_id, call.sms_skipped.as_deref()), (None, Some("opted_out")));
    assert_eq!(app.sms_count().await, 0);
}

#[tokio::test]
async fn an_opt_out_is_per_organization() {
    let app = spawn_app().await;
    app.call(GLOBEX_KEY, OPTED_OUT_CALLER, GLOBEX_OPERA).await;
    assert!(
        app.last_call().await.sms_id.is_some(),
        "Acme's opt-out must not silence Globex"
    );
}

#[tokio::test]
async fn a_second_call_within_the_cooldown_queues_no_second_sms() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    let call = app.last_call().await;
    assert_eq!((call.sms_id, call.sms_skipped.as_deref()), (None, Some("cooldown")));
    assert_eq!(app.sms_count().await, 1);

    // Another store of the same organization is its own conversation.
    app.call(ACME_KEY, CALLER, ACME_OAKLAND).await;
    assert_eq!(app.sms_count().await, 2);
}

#[tokio::test]
async fn once_the_cooldown_has_passed_a_new_sms_is_queued() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    sqlx::query("UPDATE welcome_cooldowns SET sent_at = now() - interval '24 hours 1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    assert_eq!(app.sms_count().await, 2);
    assert!(app.last_call().await.sms_id.is_some());
}

#[tokio::test]
async fn thirty_two_simultaneous_identical_calls_queue_exactly_one_sms() {
    let app = spawn_app().await;
    let calls = (0..32).map(|_| app.call(ACME_KEY, CALLER, ACME_SF));
    for answer in futures_util::future::join_all(calls).await {
        answer.assert_twiml(DIAL_ACME_SF);
    }
    assert_eq!(app.sms_count().await, 1);
    let (queued, cooling): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE sms_id IS NOT NULL), count(*) FILTER (WHERE sms_skipped = 'cooldown') FROM calls",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((queued, cooling), (1, 31));
}

#[tokio::test]
async fn a_zero_cooldown_queues_one_sms_per_call() {
    let rules = HookRules {
        phone_validation: PhoneValidation::Possible,
        welcome_cooldown: Duration::ZERO,
    };
    let app = spawn_app_with(TestSettings {
        rules,
        ..Default::default()
    })
    .await;
    let calls = (0..8).map(|_| app.call(ACME_KEY, CALLER, ACME_SF));
    futures_util::future::join_all(calls).await;
    assert_eq!(app.sms_count().await, 8);
}

#[tokio::test]
async fn a_failed_journal_write_leaves_no_sms_behind() {
    let app = spawn_app().await;
    // Make the journal insert fail inside the transaction that queued the SMS.
    sqlx::query("ALTER TABLE calls ADD CONSTRAINT refuse_dial CHECK (outcome <> 'dial')")
        .execute(&app.pool)
        .await
        .unwrap();
    app.call(ACME_KEY, CALLER, ACME_SF)
        .await
        .assert_json(503, r#"{"service":"Temporarily unavailable"}"#);
    assert_eq!(app.sms_count().await, 0, "the SMS must roll back with the call");
    let cooling: i64 = sqlx::query_scalar("SELECT count(*) FROM welcome_cooldowns")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(cooling, 0, "a rolled-back call must not start a cool-down");
}

#[tokio::test]
async fn a_caller_still_cooling_down_does_not_wait_on_the_cooldown_row_lock() {
    let app = spawn_app_with(TestSettings {
        db_timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    // Another transaction holds the (recent) mark's row lock, as a concurrent call would.
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM welcome_cooldowns FOR UPDATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    app.call(ACME_KEY, CALLER, ACME_SF).await.assert_twiml(DIAL_ACME_SF);
    assert_eq!(app.last_call().await.sms_skipped.as_deref(), Some("cooldown"));
    holder.rollback().await.unwrap();
}
