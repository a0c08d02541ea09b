//! Diesel's view of the tables (see diesel.toml).

diesel::table! {
    registrations (id) {
        id -> Int8,
        registration_request_id -> Text,
        client_id -> Text,
        status -> Text,
        reference_merchant_id -> Text,
        reference_store_id -> Nullable<Text>,
        product_codes -> Array<Text>,
        merchant_name -> Text,
        legal_name -> Text,
        merchant_mcc -> Text,
        region -> Nullable<Text>,
        registration_notify_url -> Nullable<Text>,
        review_flags -> Array<Text>,
        received_at -> Timestamptz,
        decided_at -> Nullable<Timestamptz>,
        decided_by -> Nullable<Text>,
        reason -> Nullable<Text>,
        reject_code -> Nullable<Text>,
        admitted_before_key_rule -> Bool,
        search_text -> Text,
        is_update -> Bool,
        triage_rule -> Nullable<Text>,
        triage_action -> Nullable<Text>,
        rules_version -> Nullable<Text>,
    }
}

diesel::table! {
    screening_lists (name) {
        name -> Text,
        kind -> Text,
        version -> Int4,
        entries -> Int4,
        loaded_at -> Timestamptz,
    }
}

diesel::table! {
    screening_entries (list_name, entry) {
        list_name -> Text,
        entry -> Text,
        key -> Text,
    }
}

diesel::table! {
    hit_dismissals (id) {
        id -> Int8,
        reference_merchant_id -> Text,
        list_name -> Text,
        entry -> Text,
        field -> Text,
        value -> Text,
        dismissed_by -> Text,
        dismissed_at -> Timestamptz,
        note -> Text,
    }
}

diesel::table! {
    list_hits (id) {
        id -> Int8,
        registration_id -> Int8,
        list_name -> Text,
        list_version -> Int4,
        entry -> Text,
        field -> Text,
        value -> Text,
        score -> Float8,
        status_then -> Text,
        found_at -> Timestamptz,
        dismissal_id -> Nullable<Int8>,
    }
}

diesel::table! {
    review_claims (registration_id) {
        registration_id -> Int8,
        reviewer -> Text,
        claimed_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    review_proposals (id) {
        id -> Int8,
        registration_id -> Int8,
        decision -> Text,
        reason -> Nullable<Text>,
        reject_code -> Nullable<Text>,
        proposed_by -> Text,
        proposed_at -> Timestamptz,
        state -> Text,
        closed_by -> Nullable<Text>,
        closed_at -> Nullable<Timestamptz>,
        closing_note -> Nullable<Text>,
    }
}

diesel::table! {
    review_notes (id) {
        id -> Int8,
        registration_id -> Int8,
        author -> Text,
        at -> Timestamptz,
        body -> Text,
    }
}

diesel::table! {
    requests (registration_request_id) {
        registration_request_id -> Text,
        client_id -> Text,
        reference_merchant_id -> Text,
        reference_store_id -> Nullable<Text>,
        raw_request -> Text,
        request_fingerprint -> Bytea,
        result_code -> Text,
        response_body -> Text,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    request_repeats (registration_request_id) {
        registration_request_id -> Text,
        repeats -> Int8,
        mismatched_repeats -> Int8,
        last_repeat_at -> Timestamptz,
    }
}

diesel::joinable!(request_repeats -> requests (registration_request_id));

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamptz,
        disabled_at -> Nullable<Timestamptz>,
        last_sign_in_at -> Nullable<Timestamptz>,
        totp_secret -> Nullable<Bytea>,
        totp_enrolled_at -> Nullable<Timestamptz>,
        totp_last_step -> Int8,
        sso_issuer -> Nullable<Text>,
        sso_subject -> Nullable<Text>,
    }
}

diesel::table! {
    recovery_codes (user_id, code_hash) {
        user_id -> Int8,
        code_hash -> Bytea,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sign_in_challenges (id_hash) {
        id_hash -> Bytea,
        user_id -> Int8,
        csrf_token -> Text,
        address -> Text,
        pending_secret -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    account_setups (token_hash) {
        token_hash -> Bytea,
        user_id -> Int8,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(account_setups -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(sign_in_challenges -> users (user_id));

diesel::table! {
    sessions (id_hash) {
        id_hash -> Bytea,
        user_id -> Int8,
        csrf_token -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor -> Text,
        action -> Text,
        registration_request_id -> Nullable<Text>,
        from_status -> Nullable<Text>,
        to_status -> Nullable<Text>,
        detail -> Nullable<Text>,
        address -> Nullable<Text>,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    sign_in_attempts (id) {
        id -> Int8,
        username -> Text,
        address -> Text,
        at -> Timestamptz,
        succeeded -> Nullable<Bool>,
    }
}

diesel::table! {
    notifications (id) {
        id -> Int8,
        registration_id -> Int8,
        registration_request_id -> Text,
        target -> Text,
        url -> Text,
        body -> Text,
        status -> Text,
        attempts -> Int4,
        round_attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_error -> Nullable<Text>,
        last_result_code -> Nullable<Text>,
        last_http_status -> Nullable<Int4>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notification_attempts (id) {
        id -> Int8,
        notification_id -> Int8,
        attempt -> Int4,
        started_at -> Timestamptz,
        duration_ms -> Int4,
        http_status -> Nullable<Int4>,
        result_code -> Nullable<Text>,
        error -> Nullable<Text>,
        outcome -> Text,
    }
}

diesel::joinable!(notification_attempts -> notifications (notification_id));
diesel::joinable!(notifications -> registrations (registration_id));
diesel::joinable!(review_claims -> registrations (registration_id));
diesel::joinable!(list_hits -> registrations (registration_id));
diesel::joinable!(list_hits -> hit_dismissals (dismissal_id));
diesel::joinable!(screening_entries -> screening_lists (list_name));
diesel::joinable!(review_proposals -> registrations (registration_id));
diesel::joinable!(review_notes -> registrations (registration_id));
diesel::allow_tables_to_appear_in_same_query!(
    registrations,
    review_claims,
    review_proposals,
    review_notes,
    requests,
    request_repeats,
    sign_in_attempts,
    users,
    sessions,
    recovery_codes,
    sign_in_challenges,
    account_setups,
    audit_log,
    notifications,
    notification_attempts,
    screening_lists,
    screening_entries,
    hit_dismissals,
    list_hits
);
