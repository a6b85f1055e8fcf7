//! `Authorization: Bearer <IVR_ADMIN_TOKEN>` on every admin route. Without a
//! token the API is open, which `serve` allows on a loopback bind only.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::startup::AppState;

/// The configured admin token, if any, kept as a digest for comparison.
#[derive(Clone, Default)]
pub struct AdminToken(Option<[u8; 32]>);

impl AdminToken {
    pub fn new(token: Option<&str>) -> Self {
        Self(token.map(|token| Sha256::digest(token.as_bytes()).into()))
    }

    /// Compares digests in constant time, so the answer's timing says nothing
    /// about how much of a guess was right.
    fn admits(&self, presented: Option<&str>) -> bool {
        let Some(expected) = self.0 else { return true };
        let Some(presented) = presented else { return false };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        crate::platform::secret::constant_time_eq(&expected, &presented)
    }
}

pub async fn require_token(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let token = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.admin_token.clone())
        .unwrap_or_default();
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if token.admits(presented) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refusal = HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
        .content_type("application/json")
        .body(r#"{"authorization":"Missing or invalid bearer token"}"#);
    Ok(req.into_response(refusal).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::AdminToken;

    #[test]
    fn only_the_exact_token_is_admitted() {
        let token = AdminToken::new(Some("s3cret"));
        assert!(token.admits(Some("s3cret")));
        for wrong in [None, Some(""), Some("s3cre"), Some("s3cret "), Some("S3CRET")] {
            assert!(!token.admits(wrong), "{wrong:?}");
        }
        assert!(AdminToken::new(None).admits(None), "no token configured: open");
    }
}
