//! Old calls and delivered SMS are pruned; nothing that still matters is.

use std::time::Duration;

use ivr_gateway::control::retention::storage::{Pruned, prune};
use ivr_gateway::platform::domain::PhoneValidation;
use ivr_gateway::surfaces::instaply_ivr::hook::HookRules;

use crate::helpers::*;

const WEEK: Duration = Duration::from_secs(7 * 86_400);
const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn pruning_deletes_old_calls_and_delivered_sms_only() {
    let app = spawn_app().await;
    for n in 0..4 {
        app.call(ACME_KEY, &format!("+1415555{n:04}"), ACME_SF).await;
    }
    // Age three calls and their SMS by eight days; settle their SMS three ways.
    sqlx::raw_sql(
        "UPDATE calls SET created_at = now() - interval '8 days' WHERE id IN (SELECT id FROM calls ORDER BY id LIMIT 3);
         UPDATE sms_outbox SET created_at = now() - interval '8 days' WHERE id IN (SELECT sms_id FROM calls WHERE created_at < now() - interval '1 day');
         UPDATE welcome_cooldowns SET sent_at = now() - interval '8 days' WHERE caller IN ('+14155550000', '+14155550001', '+14155550002');
         UPDATE sms_outbox SET status = 'delivered' WHERE to_number IN ('+14155550000', '+14155550003');
         UPDATE sms_outbox SET status = 'failed' WHERE to_number = '+14155550001';",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let pruned = prune(&app.pool, WEEK, DAY).await.unwrap();
    assert_eq!(
        pruned,
        Some(Pruned {
            calls: 3,
            sms: 1,
            cooldowns: 3
        })
    );
    let left: Vec<String> = sqlx::query_scalar("SELECT to_number || ' ' || status FROM sms_outbox ORDER BY to_number")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        left,
        ["+14155550001 failed", "+14155550002 queued", "+14155550003 delivered"]
    );
    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM calls")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(
        prune(&app.pool, WEEK, DAY).await.unwrap(),
        Some(Pruned::default()),
        "a second pass finds nothing"
    );
}

#[tokio::test]
async fn a_cooldown_longer_than_the_retention_keeps_its_marks() {
    let rules = HookRules {
        phone_validation: PhoneValidation::Possible,
        welcome_cooldown: WEEK,
    };
    let app = spawn_app_with(TestSettings {
        rules,
        ..Default::default()
    })
    .await;
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    sqlx::query("UPDATE welcome_cooldowns SET sent_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .unwrap();
    let pruned = prune(&app.pool, DAY, WEEK).await.unwrap().unwrap();
    assert_eq!(pruned.cooldowns, 0);
    app.call(ACME_KEY, CALLER, ACME_SF).await;
    assert_eq!(app.last_call().await.sms_skipped.as_deref(), Some("cooldown"));
}

#[tokio::test]
async fn only_one_replica_prunes_at_a_time() {
    let app = spawn_app().await;
    let mut holder = app.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(hashtext('ivr-gateway retention'))")
        .execute(&mut *holder)
        .await
        .unwrap();
    assert_eq!(prune(&app.pool, WEEK, DAY).await.unwrap(), None);
    sqlx::query("SELECT pg_advisory_unlock(hashtext('ivr-gateway retention'))")
        .execute(&mut *holder)
        .await
        .unwrap();
    assert!(prune(&app.pool, WEEK, DAY).await.unwrap().is_some());
}
