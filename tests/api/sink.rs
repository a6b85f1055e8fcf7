//! A local HTTP endpoint that records what the SMS transports send it and
//! answers as a test scripts it: the webhook receiver or Twilio's API.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

/// One request as the sink saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// How the sink answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Status(u16),
    /// Status, extra headers and a body.
    Full(u16, Vec<(&'static str, String)>, String),
    /// Never answers (the request stays in flight until the client gives up).
    Hang,
    /// Answers 200 after a delay.
    Slow(Duration),
}

type Script = dyn Fn(&Received, usize) -> Reply + Send + Sync;

struct State {
    received: Mutex<Vec<Received>>,
    /// Deliveries answered with a 2xx, by the order they were answered.
    acknowledged: Mutex<Vec<Received>>,
    script: Mutex<Arc<Script>>,
}

#[derive(Clone)]
pub struct Sink {
    pub url: String,
    state: Arc<State>,
}

impl Sink {
    /// Starts a sink that answers every request with `script(request, index)`.
    pub fn start(script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static) -> Self {
        let state = Arc::new(State {
            received: Mutex::default(),
            acknowledged: Mutex::default(),
            script: Mutex::new(Arc::new(script)),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(handle)))
            .workers(2)
            .listen(listener)
            .unwrap()
            .disable_signals()
            .run();
        tokio::spawn(server);
        Self { url, state }
    }

    pub fn accepting() -> Self {
        Self::start(|_, _| Reply::Status(200))
    }

    pub fn rescript(&self, script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static) {
        *self.state.script.lock().unwrap() = Arc::new(script);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn acknowledged(&self) -> Vec<Received> {
        self.state.acknowledged.lock().unwrap().clone()
    }
}

async fn handle(req: HttpRequest, body: web::Bytes, state: web::Data<State>) -> HttpResponse {
    let received = Received {
        path: req.path().to_owned(),
        headers: req.headers().clone(),
        body: body.to_vec(),
    };
    let index = {
        let mut all = state.received.lock().unwrap();
        all.push(received.clone());
        all.len() - 1
    };
    let script = state.script.lock().unwrap().clone();
    let (status, headers, body) = match script(&received, index) {
        Reply::Status(status) => (status, Vec::new(), String::new()),
        Reply::Full(status, headers, body) => (status, headers, body),
        Reply::Hang => std::future::pending().await,
        Reply::Slow(delay) => {
            tokio::time::sleep(delay).await;
            (200, Vec::new(), String::new())
        }
    };
    if (200..300).contains(&status) {
        state.acknowledged.lock().unwrap().push(received);
    }
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    for header in headers {
        response.insert_header(header);
    }
    response.body(body)
}
