-- The review workflow: decisions tied to their facts, an append-only audit
-- log, reviewer accounts and their sessions.

ALTER TABLE registrations
    ADD COLUMN reject_code text,
    ADD CONSTRAINT registrations_decided_check
        CHECK ((status = 'PENDING') = (decided_at IS NULL) AND (status = 'PENDING') = (decided_by IS NULL)),
    ADD CONSTRAINT registrations_reason_check
        CHECK ((status <> 'REJECTED' OR btrim(coalesce(reason, '')) <> '')
               AND (status <> 'PENDING' OR reason IS NULL)
               AND char_length(coalesce(reason, '')) <= 1024),
    ADD CONSTRAINT registrations_reject_code_check
        CHECK ((reject_code IS NULL OR status = 'REJECTED')
               AND (reject_code IS NULL OR reject_code IN ('MISSING_OR_INCORRECT_INFO', 'REJECT_FOR_RISK')));

CREATE INDEX registrations_merchant_name_prefix ON registrations (lower(merchant_name) text_pattern_ops);
CREATE INDEX registrations_by_merchant_id ON registrations (reference_merchant_id);

-- PENDING is the only state that changes; the request itself never does; and
-- nothing is deleted. Enforced here so that hand-written SQL obeys it too.
CREATE FUNCTION guard_registration_change() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER guard_registration_change BEFORE UPDATE OR DELETE ON registrations
    FOR EACH ROW EXECUTE FUNCTION guard_registration_change();

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    role          text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_username_check CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$'),
    CONSTRAINT users_role_check CHECK (role IN ('reviewer', 'admin'))
);

-- A session is known by the SHA-256 of its cookie, so a database dump holds no usable cookie.
CREATE TABLE sessions (
    id_hash      bytea       PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE audit_log (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                      timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor                   text        NOT NULL,
    action                  text        NOT NULL,
    registration_request_id text,
    from_status             text,
    to_status               text,
    detail                  text,
    address                 text
);
CREATE INDEX audit_log_by_registration ON audit_log (registration_request_id, id)
    WHERE registration_request_id IS NOT NULL;
CREATE INDEX audit_log_failed_sign_ins_by_actor ON audit_log (actor, at) WHERE action = 'user.sign_in_failed';
CREATE INDEX audit_log_failed_sign_ins_by_address ON audit_log (address, at) WHERE action = 'user.sign_in_failed';
CREATE INDEX audit_log_by_at ON audit_log (at);

CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- Every registration received and every decision lands in the audit log in
-- the same transaction, whoever wrote it.
CREATE FUNCTION audit_registration() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (actor, action, registration_request_id, to_status, detail)
        VALUES ('alipay+', 'registration.received', NEW.registration_request_id, NEW.status,
                CASE WHEN NEW.status = 'APPROVED' THEN 'approved at once (auto approval mode)' END);
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO audit_log (actor, action, registration_request_id, from_status, to_status, detail)
        VALUES (coalesce(NEW.decided_by, current_user), 'registration.' || lower(NEW.status),
                NEW.registration_request_id, OLD.status, NEW.status,
                nullif(concat_ws(': ', NEW.reject_code, NEW.reason), ''));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER audit_registration AFTER INSERT OR UPDATE OF status ON registrations
    FOR EACH ROW EXECUTE FUNCTION audit_registration();

CREATE VIEW ops.pending_reviews AS
SELECT r.*, now() - r.received_at AS waiting
  FROM ops.registrations r
 WHERE r.status = 'PENDING';

CREATE VIEW ops.audit_log AS
SELECT a.at, a.actor, a.action, a.registration_request_id, a.from_status, a.to_status, a.detail, a.address
  FROM public.audit_log a;

CREATE TRIGGER refuse_row_write INSTEAD OF INSERT OR UPDATE OR DELETE ON ops.pending_reviews
    FOR EACH ROW EXECUTE FUNCTION ops.refuse_write();
CREATE TRIGGER refuse_statement_write BEFORE INSERT OR UPDATE OR DELETE ON ops.pending_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION ops.refuse_write();
CREATE TRIGGER refuse_row_write INSTEAD OF INSERT OR UPDATE OR DELETE ON ops.audit_log
    FOR EACH ROW EXECUTE FUNCTION ops.refuse_write();
CREATE TRIGGER refuse_statement_write BEFORE INSERT OR UPDATE OR DELETE ON ops.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ops.refuse_write();
