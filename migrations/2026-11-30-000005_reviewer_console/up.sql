-- The reviewer console: search over what reviewers look for, new-or-update,
-- a third rejection category, claims, four-eyes proposals and internal notes.

-- pg_trgm is a trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE registrations
    -- Request id, merchant and store ids, names, registration number and
    -- websites, one per line, in lower case: what the console's search box
    -- looks through (a case-sensitive LIKE on lowered text is twice as fast
    -- as ILIKE, and the trigram index serves both).
    ADD COLUMN search_text text    NOT NULL DEFAULT '',
    -- Whether a registration in force (an approval) existed for one of its
    -- keys when it was admitted: an update rather than a new merchant.
    ADD COLUMN is_update   boolean NOT NULL DEFAULT false;

UPDATE registrations r
   SET search_text = lower(concat_ws(E'\n', r.registration_request_id, r.reference_merchant_id, r.reference_store_id,
                               r.merchant_name, r.legal_name,
                               q.raw_request::jsonb #>> '{merchantInfo,merchantDisplayName}',
                               q.raw_request::jsonb #>> '{storeInfo,storeName}',
                               q.raw_request::jsonb #>> '{merchantInfo,registrationDetail,registrationNo}',
                               (SELECT string_agg(w ->> 'url', E'\n')
                                  FROM jsonb_array_elements(CASE jsonb_typeof(q.raw_request::jsonb #> '{merchantInfo,websites}')
                                                            WHEN 'array' THEN q.raw_request::jsonb #> '{merchantInfo,websites}'
                                                            ELSE '[]'::jsonb END) w))),
       is_update = EXISTS (
           SELECT 1 FROM registrations o
            WHERE o.reference_merchant_id = r.reference_merchant_id
              AND o.id <> r.id
              AND o.status = 'APPROVED'
              AND o.decided_at < r.received_at
              AND o.product_codes && r.product_codes)
  FROM requests q
 WHERE q.registration_request_id = r.registration_request_id
   AND q.raw_request LIKE '{%';

CREATE INDEX registrations_search ON registrations USING gin (search_text gin_trgm_ops);
-- The search box no longer uses the name-prefix index; sorting by name does.
DROP INDEX registrations_merchant_name_prefix;
CREATE INDEX registrations_by_merchant_name ON registrations (lower(merchant_name), id);

ALTER TABLE registrations
    DROP CONSTRAINT registrations_reject_code_check,
    ADD CONSTRAINT registrations_reject_code_check
        CHECK ((reject_code IS NULL OR status = 'REJECTED')
               AND (reject_code IS NULL
                    OR reject_code IN ('MISSING_OR_INCORRECT_INFO', 'REJECT_FOR_RISK', 'REGISTRATION_FAILED')));

-- A reviewer's reservation of a PENDING registration, until it expires.
CREATE TABLE review_claims (
    registration_id bigint      PRIMARY KEY REFERENCES registrations (id),
    reviewer        text        NOT NULL,
    claimed_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CONSTRAINT review_claims_expiry_check CHECK (expires_at > claimed_at)
);
CREATE INDEX review_claims_by_reviewer ON review_claims (reviewer);

-- A decision one reviewer confirmed that a second must approve (four eyes).
CREATE TABLE review_proposals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id bigint      NOT NULL REFERENCES registrations (id),
    decision        text        NOT NULL,
    reason          text,
    reject_code     text,
    proposed_by     text        NOT NULL,
    proposed_at     timestamptz NOT NULL DEFAULT now(),
    state           text        NOT NULL DEFAULT 'open',
    closed_by       text,
    closed_at       timestamptz,
    closing_note    text,
    CONSTRAINT review_proposals_decision_check CHECK (decision IN ('APPROVED', 'REJECTED', 'CANCELLED')),
    CONSTRAINT review_proposals_state_check CHECK (state IN ('open', 'approved', 'sent_back')),
    CONSTRAINT review_proposals_closed_check CHECK ((state = 'open') = (closed_by IS NULL)
                                                    AND (state = 'open') = (closed_at IS NULL)),
    -- The second pair of eyes is another person's.
    CONSTRAINT review_proposals_second_reviewer_check CHECK (closed_by IS DISTINCT FROM proposed_by),
    CONSTRAINT review_proposals_note_check CHECK (char_length(coalesce(closing_note, '')) <= 4000)
);
CREATE UNIQUE INDEX review_proposals_one_open ON review_proposals (registration_id) WHERE state = 'open';
CREATE INDEX review_proposals_by_registration ON review_proposals (registration_id, id);

-- Internal notes: never sent anywhere, never changed.
CREATE TABLE review_notes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id bigint      NOT NULL REFERENCES registrations (id),
    author          text        NOT NULL,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    body            text        NOT NULL,
    CONSTRAINT review_notes_body_check CHECK (btrim(body) <> '' AND char_length(body) <= 4000)
);
CREATE INDEX review_notes_by_registration ON review_notes (registration_id, id);

CREATE FUNCTION refuse_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'review notes are append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER review_notes_append_only BEFORE UPDATE OR DELETE ON review_notes
    FOR EACH ROW EXECUTE FUNCTION refuse_note_change();
CREATE TRIGGER review_notes_no_truncate BEFORE TRUNCATE ON review_notes
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_note_change();

-- As before, plus: the new columns are part of the immutable request, and a
-- registration with an open proposal is never decided by its proposer.
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
           NEW.registration_notify_url, NEW.received_at, NEW.admitted_before_key_rule,
           NEW.search_text, NEW.is_update)
       IS DISTINCT FROM
       ROW(OLD.registration_request_id, OLD.client_id, OLD.reference_merchant_id, OLD.reference_store_id,
           OLD.product_codes, OLD.merchant_name, OLD.legal_name, OLD.merchant_mcc, OLD.region,
           OLD.registration_notify_url, OLD.received_at, OLD.admitted_before_key_rule,
           OLD.search_text, OLD.is_update) THEN
        RAISE EXCEPTION 'the request of a registration is immutable (%)', OLD.registration_request_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status = 'PENDING' AND NEW.status <> 'PENDING' AND EXISTS (
            SELECT 1 FROM review_proposals p
             WHERE p.registration_id = OLD.id AND p.state = 'open' AND p.proposed_by = NEW.decided_by) THEN
        RAISE EXCEPTION 'a decision proposed by % needs a second reviewer (%)', NEW.decided_by,
            OLD.registration_request_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

GRANT SELECT, INSERT, UPDATE (reviewer, claimed_at, expires_at), DELETE ON review_claims TO mpp_app;
GRANT SELECT, INSERT, UPDATE (state, closed_by, closed_at, closing_note) ON review_proposals TO mpp_app;
GRANT SELECT, INSERT ON review_notes TO mpp_app;
GRANT USAGE ON SEQUENCE review_proposals_id_seq, review_notes_id_seq TO mpp_app;

CREATE VIEW ops.review_notes AS
SELECT n.at, n.author, r.registration_request_id, n.body
  FROM public.review_notes n JOIN public.registrations r ON r.id = n.registration_id;
CREATE TRIGGER refuse_row_write INSTEAD OF INSERT OR UPDATE OR DELETE ON ops.review_notes
    FOR EACH ROW EXECUTE FUNCTION ops.refuse_write();
CREATE TRIGGER refuse_statement_write BEFORE INSERT OR UPDATE OR DELETE ON ops.review_notes
    FOR EACH STATEMENT EXECUTE FUNCTION ops.refuse_write();
