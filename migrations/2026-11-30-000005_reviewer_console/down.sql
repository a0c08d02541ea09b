DROP VIEW ops.review_notes;
DROP TABLE review_notes;
DROP FUNCTION refuse_note_change();
DROP TABLE review_proposals;
DROP TABLE review_claims;
ALTER TABLE registrations
    DROP CONSTRAINT registrations_reject_code_check,
    ADD CONSTRAINT registrations_reject_code_check
        CHECK ((reject_code IS NULL OR status = 'REJECTED')
               AND (reject_code IS NULL OR reject_code IN ('MISSING_OR_INCORRECT_INFO', 'REJECT_FOR_RISK')));
DROP INDEX registrations_by_merchant_name;
CREATE INDEX registrations_merchant_name_prefix ON registrations (lower(merchant_name) text_pattern_ops);
DROP INDEX registrations_search;
CREATE OR REPLACE FUNCTION guard_registration_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'registrations are never deleted (%)', OLD.registration_request_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.status <> 'PENDING' AND ROW(NEW.status, NEW.decided_at, NEW.decided_by, NEW.reason, NEW.reject_code)
            IS DISTINCT FROM ROW(OLD.status, OLD.decided_at, OLD.decided_by, OLD.reason, OLD.reject_code) THEN
        RAISE EXCEPTION 'illegal transition % -> % for %: % is final', OLD.status, NEW.status,
            OLD.registration_request_id, OLD.status USING ERRCODE = 'check_violation';
    END IF;
    IF ROW(NEW.registration_request_id, NEW.client_id, NEW.reference_merchant_id, NEW.reference_store_id,
           NEW.product_codes, NEW.merchant_name, NEW.legal_name, NEW.merchant_mcc, NEW.region,
           NEW.registration_notify_url, NEW.received_at, NEW.admitted_before_key_rule)
       IS DISTINCT FROM
       ROW(OLD.registration_request_id, OLD.client_id, OLD.reference_merchant_id, OLD.reference_store_id,
           OLD.product_codes, OLD.merchant_name, OLD.legal_name, OLD.merchant_mcc, OLD.region,
           OLD.registration_notify_url, OLD.received_at, OLD.admitted_before_key_rule) THEN
        RAISE EXCEPTION 'the request of a registration is immutable (%)', OLD.registration_request_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
ALTER TABLE registrations DROP COLUMN is_update, DROP COLUMN search_text;
