//! The OpenAPI 3.1 document (`/openapi.json`), generated from the handlers'
//! `#[utoipa::path]` annotations, and the schemas they share.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{RefOr, Server};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::platform::domain::FieldErrors;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ivr-gateway",
        description = "The Instaply IVR hook (`/v1/ivr`), the Instaply messaging side (Bot API, webhooks), and the inspection API that makes the gateway a test double."
    ),
    tags(
        (name = "hook", description = "What IVR platforms call while a caller is on the line"),
        (name = "inspection", description = "What the gateway recorded, for tests that use it as a double"),
        (name = "administration", description = "Organizations, API keys, stores, business numbers, opt-outs"),
        (name = "bot api", description = "Instaply's Bot API: messages, thread status and details, templates, profiles (header `token`)"),
        (name = "webhooks", description = "Instaply's webhooks: where message and transfer events are POSTed"),
        (name = "messaging admin", description = "Playing the customer; threads and event deliveries as recorded"),
        (name = "infobip", description = "Infobip voice: IVR scenarios, launches of outbound IVR, delivery reports (App or Basic authorization); their admin listings"),
        (name = "clock", description = "The emulator's clock: scheduled sends, validity and retry waits are measured on it"),
        (name = "smartflo", description = "Tata Smartflo: login, IVRs, and what a call to a Smartflo number plays"),
        (name = "simulator", description = "Simulated calls: TwiML played as Twilio would, against a persona; numbers' personas"),
        (name = "dashboard", description = "The dashboard page and its assets"),
        (name = "health", description = "Liveness and readiness"),
    ),
    modifiers(&AdminBearer)
)]
pub struct ApiDoc;

/// `Authorization: Bearer <IVR_ADMIN_TOKEN>` on `/admin`; `token: …` on the Bot API.
struct AdminBearer;

impl Modify for AdminBearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("IVR_ADMIN_TOKEN"))
            .build();
        components.add_security_scheme("admin_token", SecurityScheme::Http(scheme));
        components.add_security_scheme(
            "smartflo_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A Smartflo login or API token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "infobip_auth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`App <api key>` or `Basic <base64 user:password>`",
            ))),
        );
        components.add_security_scheme(
            "bot_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "token",
                "A Bot API user's token",
            ))),
        );
        openapi.servers = Some(vec![Server::new("/")]);
    }
}

/// Error bodies: an object mapping each bad field (or `body`, `service`,
/// `query`…) to one human sentence.
impl PartialSchema for FieldErrors {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some("Each bad field mapped to one sentence"))
            .into()
    }
}

impl ToSchema for FieldErrors {}
