-- Registrations as Alipay+ sent them, with the facts ops and reviewers need
-- extracted into columns. The raw request is kept exactly as received.
CREATE TABLE registrations (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_request_id text        NOT NULL,
    client_id               text        NOT NULL,
    status                  text        NOT NULL,
    reference_merchant_id   text        NOT NULL,
    reference_store_id      text,
    -- One key per merchant and store. Ids cannot contain control characters
    -- (validation refuses them), so U+001F cannot collide with their content.
    merchant_key            text        GENERATED ALWAYS AS
                                        (reference_merchant_id || E'\x1f' || coalesce(reference_store_id, '')) STORED,
    product_codes           text[]      NOT NULL,
    merchant_name           text        NOT NULL,
    legal_name              text        NOT NULL,
    merchant_mcc            text        NOT NULL,
    region                  text,
    registration_notify_url text,
    review_flags            text[]      NOT NULL DEFAULT '{}',
    raw_request             text        NOT NULL,
    -- sha256 of the canonical request: tells a replay from a changed body.
    request_fingerprint     bytea       NOT NULL,
    -- sha256 of merchant data + products: tells a repeat registration from an update.
    content_fingerprint     bytea       NOT NULL,
    -- The exact answer given, replayed for every repeat of the request id.
    result_code             text        NOT NULL,
    response_body           text        NOT NULL,
    received_at             timestamptz NOT NULL DEFAULT now(),
    decided_at              timestamptz,
    decided_by              text,
    reason                  text,
    CONSTRAINT registrations_request_id_key UNIQUE (registration_request_id),
    CONSTRAINT registrations_status_check
        CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')),
    CONSTRAINT registrations_product_codes_check
        CHECK (cardinality(product_codes) > 0
               AND product_codes <@ ARRAY['CASHIER_PAYMENT', 'AGREEMENT_PAYMENT', 'IN_STORE_PAYMENT']),
    CONSTRAINT registrations_fingerprints_check
        CHECK (octet_length(request_fingerprint) = 32 AND octet_length(content_fingerprint) = 32),
    CONSTRAINT registrations_result_code_check
        CHECK (result_code IN ('SUCCESS', 'REGISTRATION_IN_PROCESS'))
);

-- At most one registration under review per merchant (and store): concurrent
-- requests for the same merchant cannot both become PENDING.
CREATE UNIQUE INDEX registrations_one_pending_per_merchant
    ON registrations (merchant_key) WHERE status = 'PENDING';
CREATE INDEX registrations_by_merchant ON registrations (merchant_key, status);
CREATE INDEX registrations_by_status_received ON registrations (status, received_at, id);

-- The operators' read-only surface.
CREATE SCHEMA ops;

CREATE FUNCTION ops.refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ops.% is a read-only view', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE VIEW ops.registrations AS
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

-- A row trigger makes every write go through refuse_write; the statement
-- trigger makes even a write that matches no row fail.
CREATE TRIGGER refuse_row_write INSTEAD OF INSERT OR UPDATE OR DELETE ON ops.registrations
    FOR EACH ROW EXECUTE FUNCTION ops.refuse_write();
CREATE TRIGGER refuse_statement_write BEFORE INSERT OR UPDATE OR DELETE ON ops.registrations
    FOR EACH STATEMENT EXECUTE FUNCTION ops.refuse_write();
