//! Playing an IVR platform: call any `/v1/ivr` hook (this one or another) and
//! read back what the caller would hear.

pub mod transcript;

use std::time::Duration;

/// How the request carries its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CallMethod {
    /// Every field in the query string.
    Get,
    /// A JSON body.
    Post,
    /// As a Twilio Voice URL: `key` and `context` in the query string,
    /// `From` and `To` form-encoded.
    Form,
}

#[derive(Clone, Debug)]
pub struct CallRequest {
    pub url: String,
    pub method: CallMethod,
    pub key: String,
    pub from: String,
    pub to: String,
    pub context: Option<String>,
}

/// The hook's answer and its transcript.
#[derive(Clone, Debug)]
pub struct CallAnswer {
    pub status: u16,
    pub reason: String,
    pub lines: Vec<String>,
}

impl CallAnswer {
    pub fn is_error(&self) -> bool {
        self.status >= 400
    }

    pub fn render(&self) -> String {
        let mut out = format!("HTTP {} {}\n", self.status, self.reason);
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

pub async fn call(request: &CallRequest) -> anyhow::Result<CallAnswer> {
    let url = reqwest::Url::parse(&request.url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "'{}' is not an http(s) URL: write it whole, e.g. http://127.0.0.1:8080/v1/ivr",
                request.url
            )
        })?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let mut query = vec![("key", request.key.as_str())];
    if let Some(context) = &request.context {
        query.push(("context", context));
    }
    let builder = match request.method {
        CallMethod::Get => {
            query.extend([("from", request.from.as_str()), ("to", request.to.as_str())]);
            client.get(&request.url).query(&query)
        }
        CallMethod::Post => {
            let mut body = serde_json::json!({ "key": request.key, "from": request.from, "to": request.to });
            if let Some(context) = &request.context {
                body["context"] = context.as_str().into();
            }
            client
                .post(&request.url)
                .header("content-type", "application/json")
                .body(body.to_string())
        }
        CallMethod::Form => client
            .post(&request.url)
            .query(&query)
            .form(&[("From", &request.from), ("To", &request.to)]),
    };
    // reqwest's error names the whole URL, key included: say the cause instead.
    let response = builder.send().await.map_err(|e| unreachable(&url, e))?;
    let status = response.status();
    let body = response.text().await?;
    let lines = if status.is_success() {
        transcript::of_twiml(&body).map_err(|e| anyhow::anyhow!("{e}\n{body}"))?
    } else {
        transcript::of_error_json(&body).unwrap_or_else(|| vec![body.trim().to_owned()])
    };
    Ok(CallAnswer {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or_default().to_owned(),
        lines,
    })
}

/// Why `url` could not be called, without the request's query (it holds the
/// key), and what to do about the usual cause.
fn unreachable(url: &reqwest::Url, error: reqwest::Error) -> anyhow::Error {
    let place = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
        + &url.port().map(|port| format!(":{port}")).unwrap_or_default();
    let connect = error.is_connect();
    let cause = if error.is_timeout() {
        "no answer within 30 s".to_owned()
    } else if connect {
        let mut root: &dyn std::error::Error = &error;
        while let Some(source) = root.source() {
            root = source;
        }
        format!("cannot connect ({root})")
    } else {
        error.without_url().to_string()
    };
    let hint = if connect {
        "\nIs the gateway running? Start it with `ivr-gateway serve` (or `cargo run -- serve`), or pass --url."
    } else {
        ""
    };
    anyhow::anyhow!("cannot call {place}: {cause}{hint}")
}
