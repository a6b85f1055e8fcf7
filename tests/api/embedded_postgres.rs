//! The launcher behind the embedded default, on its own.

use ivr_gateway::platform::embedded_postgres::{ClusterOptions, EmbeddedPostgres};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn a_cluster_keeps_its_data_across_restarts_and_is_shared_while_running() {
    let data_root = std::env::temp_dir().join(format!("ivr-gateway-cluster-{}", uuid::Uuid::new_v4().simple()));
    let options = ClusterOptions {
        data_root: data_root.clone(),
        durable: false,
    };

    let mut first = EmbeddedPostgres::start(&options).await.unwrap();
    let mut conn = PgConnection::connect(&first.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    // A second process on the same folder (a `seed` beside `serve`) joins it.
    let mut joined = EmbeddedPostgres::start(&options).await.unwrap();
    assert_eq!(joined.port(), first.port());
    joined.stop().await; // not its server: must not stop it
    PgConnection::connect(&first.url())
        .await
        .expect("still running after the joiner stopped")
        .close()
        .await
        .unwrap();

    first.stop().await;
    assert!(PgConnection::connect(&first.url()).await.is_err(), "stopped");

    let mut again = EmbeddedPostgres::start(&options).await.unwrap();
    let mut conn = PgConnection::connect(&again.url()).await.unwrap();
    let kept: String = sqlx::query_scalar("SELECT v FROM kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, "still here");
    conn.close().await.unwrap();
    again.stop().await;
    std::fs::remove_dir_all(&data_root).unwrap();
}

#[tokio::test]
async fn the_server_listens_on_loopback_only_and_requires_the_password() {
    let data_root = std::env::temp_dir().join(format!("ivr-gateway-cluster-{}", uuid::Uuid::new_v4().simple()));
    let mut cluster = EmbeddedPostgres::start(&ClusterOptions {
        data_root: data_root.clone(),
        durable: false,
    })
    .await
    .unwrap();
    let mut conn = PgConnection::connect(&cluster.url()).await.unwrap();
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(listen, "127.0.0.1");
    conn.close().await.unwrap();
    let no_password = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port());
    assert!(PgConnection::connect(&no_password).await.is_err());
    cluster.stop().await;
    std::fs::remove_dir_all(&data_root).unwrap();
}
