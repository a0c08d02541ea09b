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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::document;
    use crate::domain::registration::validate;
    use crate::protocol::registration::RegistrationRequest;

    /// Follows `$ref`s into the document's components.
    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(pointer) => resolve(doc, doc.pointer(&pointer[1..]).unwrap_or(&Value::Null)),
            None => schema,
        }
    }

    /// The alternatives of a schema (`anyOf`: an Option's `null`; `oneOf`: one or many).
    fn alternatives(schema: &Value) -> impl Iterator<Item = &Value> {
        ["anyOf", "oneOf"]
            .into_iter()
            .filter_map(|k| schema[k].as_array())
            .flatten()
    }

    /// The schema of a member, through the alternatives.
    fn member<'a>(doc: &'a Value, schema: &'a Value, name: &str) -> Option<&'a Value> {
        let schema = resolve(doc, schema);
        if let Some(found) = schema["properties"].get(name) {
            return Some(resolve(doc, found));
        }
        alternatives(schema).find_map(|alt| member(doc, alt, name))
    }

    fn max_length(doc: &Value, schema: &Value) -> Option<u64> {
        let schema = resolve(doc, schema);
        schema["maxLength"]
            .as_u64()
            .or_else(|| alternatives(schema).find_map(|alt| max_length(doc, alt)))
    }

    fn items<'a>(doc: &'a Value, schema: &'a Value) -> Option<&'a Value> {
        let schema = resolve(doc, schema);
        if let Some(items) = schema.get("items") {
            return Some(resolve(doc, items));
        }
        alternatives(schema).find_map(|alt| items(doc, alt))
    }

    /// Every string of `value` with its field path and the schema's maxLength.
    fn leaves(
        doc: &Value,
        schema: &Value,
        value: &Value,
        path: &str,
        out: &mut Vec<(String, Option<u64>)>,
    ) {
        match value {
            Value::String(_) => out.push((path.to_owned(), max_length(doc, schema))),
            Value::Object(map) => {
                for (name, v) in map {
                    let child = member(doc, schema, name).unwrap_or(&Value::Null);
                    let p = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    leaves(doc, child, v, &p, out);
                }
            }
            Value::Array(list) => {
                let child = items(doc, schema).unwrap_or(&Value::Null);
                for (i, v) in list.iter().enumerate() {
                    leaves(doc, child, v, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }

    fn set(value: &mut Value, path: &str, text: String) {
        let mut at = value;
        for part in path.split('.') {
            let (name, index) = match part.split_once('[') {
                Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
                None => (part, None),
            };
            at = &mut at[name];
            if let Some(i) = index {
                at = &mut at[i];
            }
        }
        *at = Value::String(text);
    }

    /// The limits `/openapi.json` states are the ones the validator applies:
    /// every text field of a full request has a maxLength, and one character
    /// more is refused naming that field.
    #[test]
    fn the_description_states_the_limits_the_validator_applies() {
        let doc = document();
        let root = &doc["paths"][crate::protocol::paths::REGISTRATION]["post"]["requestBody"]["content"]
            ["application/json"]["schema"];
        let mut sample = crate::simulate::register::sample_registration("L", 2);
        sample["registrationNotifyUrl"] = json!("https://m.example/n");
        sample["passThroughInfo"] = json!("x");
        let m = &mut sample["merchantInfo"];
        m["merchantDisplayName"] = json!("Shop");
        m["logo"] = json!({"logoName": "L", "logoUrl": "https://m.example/l.png"});
        m["websites"][0]["desc"] = json!("d");
        m["websites"][0]["type"] = json!("WEB");
        m["merchantAddress"] = json!({"region": "HK", "state": "HK", "city": "C", "address1": "a",
            "address2": "b", "address3": "c", "zipCode": "z", "country": "HK", "label": "l"});
        let d = &mut m["registrationDetail"];
        d["attachments"] =
            json!([{"attachmentType": "LOGO", "file": "f", "attachmentName": "n", "fileKey": "k"}]);
        d["registrationEffectiveDate"] = json!("2020-01-01");
        d["registrationExpireDate"] = json!("2030-01-01");
        let s = &mut sample["storeInfo"];
        s["storeDisplayName"] = json!("S");
        s["storeContacts"] = json!([{"fullName": "F", "identificationId": "I"}]);
        s["storeTerminalId"] = json!("T");
        s["storeOperatorId"] = json!("O");
        s["storePhoneNo"] = json!("P");
        assert!(validate(&RegistrationRequest::from_value(&sample).unwrap()).is_ok());

        let mut found = Vec::new();
        leaves(doc, root, &sample, "", &mut found);
        assert!(found.len() > 40, "{found:?}");
        for (path, max) in found {
            if path.starts_with("productCodes") {
                continue;
            }
            let max = max.unwrap_or_else(|| panic!("{path}: no maxLength in /openapi.json"));
            let mut long = sample.clone();
            set(&mut long, &path, "a".repeat(max as usize + 1));
            let refused = RegistrationRequest::from_value(&long)
                .ok()
                .and_then(|r| validate(&r).err())
                .unwrap_or_else(|| panic!("{path}: {} characters accepted", max + 1));
            assert_eq!(refused.path, path, "{refused}");
        }
    }
}
