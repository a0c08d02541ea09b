-- Back to one row per accepted request holding its own answer. Bindings of
-- refused requests and the repeat counters have no place there and are lost;
-- the content fingerprint, which this version no longer keeps, is restored
-- as a hash of the raw request (an old server then treats a re-sent
-- approved registration as an update rather than a repeat).
ALTER TABLE registrations
    ADD COLUMN raw_request text,
    ADD COLUMN request_fingerprint bytea,
    ADD COLUMN content_fingerprint bytea,
    ADD COLUMN result_code text,
    ADD COLUMN response_body text,
    ADD COLUMN merchant_key text GENERATED ALWAYS AS
        (reference_merchant_id || E'\x1f' || coalesce(reference_store_id, '')) STORED;

-- The guard in force does not look at the columns being restored.
UPDATE registrations r
   SET raw_request = q.raw_request,
       request_fingerprint = q.request_fingerprint,
       content_fingerprint = sha256(convert_to(q.raw_request, 'UTF8')),
       result_code = q.result_code,
       response_body = q.response_body
  FROM requests q
 WHERE q.registration_request_id = r.registration_request_id;

ALTER TABLE registrations
    ALTER COLUMN raw_request SET NOT NULL,
    ALTER COLUMN request_fingerprint SET NOT NULL,
    ALTER COLUMN content_fingerprint SET NOT NULL,
    ALTER COLUMN result_code SET NOT NULL,
    ALTER COLUMN response_body SET NOT NULL,
    ADD CONSTRAINT registrations_fingerprints_check
        CHECK (octet_length(request_fingerprint) = 32 AND octet_length(content_fingerprint) = 32),
    ADD CONSTRAINT registrations_result_code_check
        CHECK (result_code IN ('SUCCESS', 'REGISTRATION_IN_PROCESS'));

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
    IF ROW(NEW.registration_request_id, NEW.raw_request, NEW.request_fingerprint, NEW.response_body, NEW.result_code)
            IS DISTINCT FROM
       ROW(OLD.registration_request_id, OLD.raw_request, OLD.request_fingerprint, OLD.response_body, OLD.result_code) THEN
        RAISE EXCEPTION 'the request and its answer are immutable (%)', OLD.registration_request_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

DROP INDEX registrations_by_merchant;
DROP INDEX registrations_approved_in_store;
DROP INDEX registrations_approved_agreement;
DROP INDEX registrations_approved_cashier;
DROP INDEX registrations_one_pending_in_store;
DROP INDEX registrations_one_pending_agreement;
DROP INDEX registrations_one_pending_cashier;
CREATE UNIQUE INDEX registrations_one_pending_per_merchant
    ON registrations (merchant_key) WHERE status = 'PENDING';
CREATE INDEX registrations_by_merchant ON registrations (reference_merchant_id, merchant_key, status);

CREATE OR REPLACE VIEW ops.registrations AS
SELECT r.registration_request_id,
       r.reference_merchant_id,
       r.reference_store_id,
       r.product_codes,
       r.merchant_name,
       r.status,
       r.received_at,
       r.decided_at,
       r.decided_by,
       r.reason,
       r.legal_name,
       r.merchant_mcc,
       r.region,
       r.client_id,
       r.registration_notify_url,
       r.review_flags,
       r.result_code
  FROM public.registrations r;

ALTER TABLE registrations
    DROP CONSTRAINT registrations_request_fkey,
    DROP CONSTRAINT registrations_in_store_has_store_check,
    DROP COLUMN admitted_before_key_rule;

DROP VIEW ops.requests;
DROP TABLE request_repeats;
DROP TRIGGER refuse_request_change ON requests;
DROP FUNCTION refuse_request_change();
DROP TABLE requests;
