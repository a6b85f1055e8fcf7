//! The JSON 414 for request lines too long for the HTTP parser.
//!
//! Up to 64 KiB a long query string reaches the routes, which answer
//! `414 {"query":…}` themselves. Past that the `http` crate cannot hold the
//! URI and actix-http's parser answers with a bare `400` (or `431` past its
//! head buffer) before any route or middleware runs. The contract wants the
//! same JSON 414 whatever the length, so each connection's bytes are
//! watched: when the request line in progress has outgrown
//! [`MAX_QUERY_BYTES`] and the server's answer is the parser's refusal, that
//! answer is replaced by the 414 on its way out. Nothing else is touched.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest query string read; longer is a 414 on every route.
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// The 414's body, as the routes send it too.
fn query_too_long_body() -> String {
    format!(r#"{{"query":"Query string over {MAX_QUERY_BYTES} bytes"}}"#)
}

/// Bytes of a line kept to tell a request line (`GET /…`) from a header.
const LINE_START: usize = 16;

/// A connection whose over-long request line gets the JSON 414.
pub struct LongUriWatch<T> {
    inner: T,
    /// Length of the line being read, up to its `\n`.
    line_len: usize,
    line_start: [u8; LINE_START],
    /// A request line in progress has outgrown the limit.
    overlong: bool,
    /// The 414 replacing the parser's answer: bytes still to write.
    replacement: Option<(Vec<u8>, usize)>,
    replaced: Arc<AtomicBool>,
}

impl<T> LongUriWatch<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            line_len: 0,
            line_start: [0; LINE_START],
            overlong: false,
            replacement: None,
            replaced: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Turns true once this connection's answer was replaced by the 414.
    pub fn replaced(&self) -> Arc<AtomicBool> {
        self.replaced.clone()
    }

    fn saw(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.overlong {
            let (line, ended) = match bytes.iter().position(|&b| b == b'\n') {
                Some(end) => (&bytes[..end], true),
                None => (bytes, false),
            };
            let kept = self.line_len.min(LINE_START);
            let take = (LINE_START - kept).min(line.len());
            self.line_start[kept..kept + take].copy_from_slice(&line[..take]);
            self.line_len += line.len();
            let start = &self.line_start[..self.line_len.min(LINE_START)];
            self.overlong = self.line_len > MAX_QUERY_BYTES && is_request_line(start);
            if ended {
                self.line_len = 0;
                bytes = &bytes[line.len() + 1..];
            } else {
                bytes = &[];
            }
        }
    }
}

/// `METHOD ` at the start of a line: a request line, not a header.
fn is_request_line(start: &[u8]) -> bool {
    let method = start.iter().take_while(|b| b.is_ascii_uppercase()).count();
    method > 0 && start.get(method) == Some(&b' ')
}

/// The parser's refusals: a bodiless 400, or 431 when the head overflowed.
fn is_parser_refusal(answer: &[u8]) -> bool {
    answer.starts_with(b"HTTP/1.1 400 ")
        || answer.starts_with(b"HTTP/1.1 431 ")
        || answer.starts_with(b"HTTP/1.0 400 ")
        || answer.starts_with(b"HTTP/1.0 431 ")
}

fn replacement() -> Vec<u8> {
    let body = query_too_long_body();
    format!(
        "HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\ndate: {}\r\n\r\n{body}",
        body.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    )
    .into_bytes()
}

impl<T: AsyncRead + Unpin> AsyncRead for LongUriWatch<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if !self.overlong {
            self.saw(&buf.filled()[before..]);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> LongUriWatch<T> {
    /// Writes what is left of the replacement; ready once all of it is out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LongUriWatch<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_none() && this.overlong && is_parser_refusal(buf) {
            this.replacement = Some((replacement(), 0));
            this.replaced.store(true, Ordering::Relaxed);
        }
        if this.replacement.is_some() {
            // The parser's own answer is swallowed: the 414 stands in for it.
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    use super::*;

    /// Feeds `request` to a watch in chunks of `chunk` bytes, answers
    /// `answer` as the server would, and returns what the client received.
    async fn exchange(request: &[u8], chunk: usize, answer: &[u8]) -> String {
        let (mut client, server) = duplex(1 << 20);
        let mut watch = LongUriWatch::new(server);
        for part in request.chunks(chunk) {
            client.write_all(part).await.unwrap();
            let mut buf = vec![0; part.len()];
            watch.read_exact(&mut buf).await.unwrap();
        }
        watch.write_all(answer).await.unwrap();
        watch.shutdown().await.unwrap();
        let mut received = String::new();
        client.read_to_string(&mut received).await.unwrap();
        received
    }

    const REFUSAL: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";

    #[tokio::test]
    async fn an_overlong_request_line_refused_by_the_parser_gets_the_json_414_however_it_was_split() {
        let request = format!("GET /v1/ivr?key={} HTTP/1.1\r\n", "a".repeat(70_000)).into_bytes();
        for chunk in [1, 7, 4096, request.len()] {
            let received = exchange(&request, chunk, REFUSAL).await;
            assert!(
                received.starts_with("HTTP/1.1 414 URI Too Long\r\n"),
                "chunk {chunk}: {received}"
            );
            assert!(received.contains("content-type: application/json\r\n"));
            assert!(received.ends_with("\r\n\r\n{\"query\":\"Query string over 8192 bytes\"}"));
        }
    }

    #[tokio::test]
    async fn a_431_for_an_overlong_request_line_becomes_the_414_too() {
        let request = format!("POST /{} HTTP/1.1\r\n", "b".repeat(200_000)).into_bytes();
        let received = exchange(
            &request,
            65_536,
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n",
        )
        .await;
        assert!(received.starts_with("HTTP/1.1 414 "), "{received}");
    }

    #[tokio::test]
    async fn an_overlong_header_keeps_the_parsers_answer() {
        let request = format!("GET / HTTP/1.1\r\nx-long: {}\r\n", "c".repeat(70_000)).into_bytes();
        let received = exchange(&request, 1000, REFUSAL).await;
        assert_eq!(received.as_bytes(), REFUSAL);
    }

    #[tokio::test]
    async fn ordinary_answers_pass_untouched_even_after_a_long_line() {
        let request = format!("GET /v1/ivr?key={} HTTP/1.1\r\n", "d".repeat(20_000)).into_bytes();
        // The route's own 414 (the parser accepted the line) is not a refusal.
        let own = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(exchange(&request, 512, own).await.as_bytes(), own);
        let short = b"GET /healthz HTTP/1.1\r\n\r\n";
        assert_eq!(exchange(short, 3, REFUSAL).await.as_bytes(), REFUSAL);
    }
}
