//! Diesel's view of the tables (see diesel.toml).

diesel::table! {
    registrations (id) {
        id -> Int8,
        registration_request_id -> Text,
        client_id -> Text,
        status -> Text,
        reference_merchant_id -> Text,
        reference_store_id -> Nullable<Text>,
        merchant_key -> Text,
        product_codes -> Array<Text>,
        merchant_name -> Text,
        legal_name -> Text,
        merchant_mcc -> Text,
        region -> Nullable<Text>,
        registration_notify_url -> Nullable<Text>,
        review_flags -> Array<Text>,
        raw_request -> Text,
        request_fingerprint -> Bytea,
        content_fingerprint -> Bytea,
        result_code -> Text,
        response_body -> Text,
        received_at -> Timestamptz,
        decided_at -> Nullable<Timestamptz>,
        decided_by -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}
