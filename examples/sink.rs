//! A webhook receiver that answers `200` to every POST and counts them:
//! the far end of `bench/run`'s `send_message` scenario.
//!
//!     cargo run --release --example sink -- 127.0.0.1:18102

use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};

static RECEIVED: AtomicU64 = AtomicU64::new(0);

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18102".to_owned());
    HttpServer::new(|| {
        App::new()
            .route(
                "/count",
                web::get().to(|| async { RECEIVED.load(Ordering::Relaxed).to_string() }),
            )
            .default_service(web::to(|_body: web::Bytes| async {
                RECEIVED.fetch_add(1, Ordering::Relaxed);
                HttpResponse::Ok().finish()
            }))
    })
    .workers(1)
    .bind(bind)?
    .run()
    .await
}
