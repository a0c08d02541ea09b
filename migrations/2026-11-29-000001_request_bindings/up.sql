-- Two rules of the protocol reference (resolutions A2 and A3) in the schema:
--
-- 1. A registrationRequestId that got a business answer is bound to it for
--    good, whether the request was accepted or refused: `requests` keeps,
--    per id, what Alipay+ sent and what it was answered. `registrations`
--    keeps the accepted ones as the review workflow sees them.
-- 2. Admission is by registration key: referenceMerchantId + product code,
--    plus referenceStoreId for IN_STORE_PAYMENT only. At most one PENDING
--    registration per key, enforced by one partial unique index per product.

CREATE TABLE requests (
    registration_request_id text        PRIMARY KEY,
    client_id               text        NOT NULL,
    reference_merchant_id   text        NOT NULL,
    reference_store_id      text,
    -- The body exactly as received.
    raw_request             text        NOT NULL,
    -- sha256 of the canonical body: tells a repeat from a changed body.
    request_fingerprint     bytea       NOT NULL,
    -- The answer, replayed for every repeat of the id.
    result_code             text        NOT NULL,
    response_body           text        NOT NULL,
    received_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT requests_fingerprint_check CHECK (octet_length(request_fingerprint) = 32),
    CONSTRAINT requests_result_code_check
        CHECK (result_code IN ('SUCCESS', 'REGISTRATION_IN_PROCESS', 'REGISTRATION_UNDER_REVIEW', 'REPEAT_REGISTRATION'))
);

INSERT INTO requests (registration_request_id, client_id, reference_merchant_id, reference_store_id, raw_request,
                      request_fingerprint, result_code, response_body, received_at)
SELECT registration_request_id, client_id, reference_merchant_id, reference_store_id, raw_request,
       request_fingerprint, result_code, response_body, received_at
  FROM registrations;

-- A binding never changes and is never removed.
CREATE FUNCTION refuse_request_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a request binding is immutable (%)', OLD.registration_request_id
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER refuse_request_change BEFORE UPDATE OR DELETE ON requests
    FOR EACH ROW EXECUTE FUNCTION refuse_request_change();

-- How often a bound id was asked again: a row of its own from the first
-- repeat on, so that counting writes a few bytes instead of a new version of
-- the request (with its body) each time.
CREATE TABLE request_repeats (
    registration_request_id text        PRIMARY KEY REFERENCES requests (registration_request_id),
    -- Repeats answered from the binding, and those of them whose body differed.
    repeats                 bigint      NOT NULL,
    mismatched_repeats      bigint      NOT NULL DEFAULT 0,
    last_repeat_at          timestamptz NOT NULL,
    CONSTRAINT request_repeats_check CHECK (mismatched_repeats >= 0 AND repeats >= mismatched_repeats)
);

-- The operators' view of every bound id, accepted or refused. A write through it fails.
CREATE VIEW ops.requests AS
SELECT q.registration_request_id,
       q.reference_merchant_id,
       q.reference_store_id,
       q.result_code,
       q.received_at,
       coalesce(n.repeats, 0) AS repeats,
       coalesce(n.mismatched_repeats, 0) AS mismatched_repeats,
       n.last_repeat_at,
       q.client_id
  FROM public.requests q
  LEFT JOIN public.request_repeats n ON n.registration_request_id = q.registration_request_id;
CREATE TRIGGER refuse_row_write INSTEAD OF INSERT OR UPDATE OR DELETE ON ops.requests
    FOR EACH ROW EXECUTE FUNCTION ops.refuse_write();
CREATE TRIGGER refuse_statement_write BEFORE INSERT OR UPDATE OR DELETE ON ops.requests
    FOR EACH STATEMENT EXECUTE FUNCTION ops.refuse_write();

-- ops.registrations keeps its columns; the answer now comes from the binding.
-- A LEFT JOIN on the binding's primary key is removed by the planner when a
-- query does not ask for result_code.
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
       q.result_code
  FROM public.registrations r
  LEFT JOIN public.requests q ON q.registration_request_id = r.registration_request_id;

-- A registration belongs to its binding.
ALTER TABLE registrations
    ADD CONSTRAINT registrations_request_fkey
        FOREIGN KEY (registration_request_id) REFERENCES requests (registration_request_id),
    ADD CONSTRAINT registrations_in_store_has_store_check
        CHECK (NOT ('IN_STORE_PAYMENT' = ANY (product_codes)) OR reference_store_id IS NOT NULL),
    -- PENDING registrations admitted before registration keys existed may
    -- share a key (the old rule keyed on merchant and store alone). They, and
    -- only they, are set apart in the one-pending-per-key indexes below, and
    -- are decided like any other; every later registration has `false`.
    ADD COLUMN admitted_before_key_rule boolean NOT NULL DEFAULT false;

UPDATE registrations r
   SET admitted_before_key_rule = true
 WHERE r.status = 'PENDING'
   AND EXISTS (
       SELECT 1
         FROM registrations o
        WHERE o.status = 'PENDING'
          AND o.id < r.id
          AND o.reference_merchant_id = r.reference_merchant_id
          AND EXISTS (SELECT 1
                        FROM unnest(r.product_codes) p
                       WHERE p = ANY (o.product_codes)
                         AND (p <> 'IN_STORE_PAYMENT' OR o.reference_store_id = r.reference_store_id)));

-- One PENDING registration per key. Each index also serves the intake's
-- "is this key under review?" lookup (its leading column is the merchant).
CREATE UNIQUE INDEX registrations_one_pending_cashier
    ON registrations (reference_merchant_id, (CASE WHEN admitted_before_key_rule THEN id ELSE 0 END))
    WHERE status = 'PENDING' AND 'CASHIER_PAYMENT' = ANY (product_codes);
CREATE UNIQUE INDEX registrations_one_pending_agreement
    ON registrations (reference_merchant_id, (CASE WHEN admitted_before_key_rule THEN id ELSE 0 END))
    WHERE status = 'PENDING' AND 'AGREEMENT_PAYMENT' = ANY (product_codes);
CREATE UNIQUE INDEX registrations_one_pending_in_store
    ON registrations (reference_merchant_id, reference_store_id, (CASE WHEN admitted_before_key_rule THEN id ELSE 0 END))
    WHERE status = 'PENDING' AND 'IN_STORE_PAYMENT' = ANY (product_codes);

-- The registration in force for a key: its latest approval. Entries appear
-- only when a registration is approved, never on the insert of a PENDING one.
CREATE INDEX registrations_approved_cashier
    ON registrations (reference_merchant_id, decided_at)
    WHERE status = 'APPROVED' AND 'CASHIER_PAYMENT' = ANY (product_codes);
CREATE INDEX registrations_approved_agreement
    ON registrations (reference_merchant_id, decided_at)
    WHERE status = 'APPROVED' AND 'AGREEMENT_PAYMENT' = ANY (product_codes);
CREATE INDEX registrations_approved_in_store
    ON registrations (reference_merchant_id, reference_store_id, decided_at)
    WHERE status = 'APPROVED' AND 'IN_STORE_PAYMENT' = ANY (product_codes);

-- The merchant (and store) index of the inquiry and the admin history.
DROP INDEX registrations_one_pending_per_merchant;
DROP INDEX registrations_by_merchant;
CREATE INDEX registrations_by_merchant ON registrations (reference_merchant_id, reference_store_id);

-- The request, its fingerprints and its answer now live in `requests`.
ALTER TABLE registrations
    DROP CONSTRAINT registrations_fingerprints_check,
    DROP CONSTRAINT registrations_result_code_check,
    DROP COLUMN merchant_key,
    DROP COLUMN raw_request,
    DROP COLUMN request_fingerprint,
    DROP COLUMN content_fingerprint,
    DROP COLUMN result_code,
    DROP COLUMN response_body;

-- PENDING is the only state that changes; the facts read from the request
-- never do; nothing is deleted. Enforced here so that hand-written SQL obeys
-- it too.
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
