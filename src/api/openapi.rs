//! The OpenAPI 3.1 description of the `/aps` APIs, generated from the wire
//! types (so it cannot drift from what the server parses and sends).

use actix_web::HttpResponse;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::protocol::inquiry::{InquiryRequest, InquiryResponse};
use crate::protocol::notify::{MerchantNotification, RegistrationStatusNotification};
use crate::protocol::paths;
use crate::protocol::registration::RegistrationRequest;
use crate::protocol::result::ResultBody;

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = settings.into_generator();
    let registration = generator.subschema_for::<RegistrationRequest>();
    let answer = generator.subschema_for::<ResultBody>();
    let inquiry = generator.subschema_for::<InquiryRequest>();
    let inquiry_answer = generator.subschema_for::<InquiryResponse>();
    // Messages we send rather than serve, described for peers and tests.
    generator.subschema_for::<RegistrationStatusNotification>();
    generator.subschema_for::<MerchantNotification>();
    let schemas = generator.take_definitions(true);

    let headers = json!([
        {"name": "Client-Id", "in": "header", "required": true, "schema": {"type": "string"}},
        {"name": "Request-Time", "in": "header", "required": true, "schema": {"type": "string"},
         "description": "Signed as sent; ISO 8601 or epoch milliseconds."},
        {"name": "Signature", "in": "header", "required": true, "schema": {"type": "string"},
         "description": "algorithm=RSA256,keyVersion=N,signature=<url-encoded base64 of SHA256withRSA over `POST <path>\\n<Client-Id>.<Request-Time>.<body>`>"}
    ]);
    let response_headers = json!({
        "Client-Id": {"schema": {"type": "string"}, "description": "The request's Client-Id, echoed."},
        "Response-Time": {"schema": {"type": "string"}},
        "Signature": {"schema": {"type": "string"}, "description": "Our signature over `POST <path>\\n<Client-Id>.<Response-Time>.<body>`."}
    });
    let operation = |id: &str,
                     summary: &str,
                     request: &schemars::Schema,
                     response: &schemars::Schema| {
        json!({"post": {
            "operationId": id,
            "summary": summary,
            "parameters": headers,
            "requestBody": {"required": true, "content": {"application/json": {"schema": request}}},
            "responses": {"200": {
                "description": "Every outcome, failures included, is HTTP 200 with a signed `result`.",
                "headers": response_headers,
                "content": {"application/json": {"schema": response}}
            }}
        }})
    };
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "mpp-registrar: Alipay+ merchant registration (wallet side)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "All scalars are strings; `null` means absent; `\"\"` is refused."
        },
        "paths": {
            (paths::REGISTRATION): operation("registration", "Register or update a merchant", &registration, &answer),
            (paths::INQUIRY): operation("inquiryRegistrationStatus", "Where a registration stands", &inquiry, &inquiry_answer),
            (paths::INQUIRY_ANTOM): operation("inquiryRegistrationStatusAntom", "The same, on the Antom path", &inquiry, &inquiry_answer)
        },
        "components": {"schemas": schemas}
    })
}

/// GET /openapi.json.
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .json(document())
}
