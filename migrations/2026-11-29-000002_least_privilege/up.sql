-- Sign-in attempts, counted for throttling. An attempt is written before its
-- password is checked (under a lock per username and per address), so that
-- parallel guesses cannot all read the same old count.
CREATE TABLE sign_in_attempts (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username  text        NOT NULL,
    address   text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    -- NULL while the password is being checked: it counts as a failure until then.
    succeeded boolean
);
CREATE INDEX sign_in_attempts_by_username ON sign_in_attempts (username, at);
CREATE INDEX sign_in_attempts_by_address ON sign_in_attempts (address, at);
CREATE INDEX sign_in_attempts_by_at ON sign_in_attempts (at);

-- Failures were counted from the audit log; the log still records them.
DROP INDEX audit_log_failed_sign_ins_by_actor;
DROP INDEX audit_log_failed_sign_ins_by_address;

-- The role the server works as. It logs in as nobody, owns nothing, and may
-- do only what the server does: so the state-machine guards and the
-- append-only audit log hold against it (they do not bind a table's owner or
-- a superuser), and it cannot switch triggers off, run programs or make
-- roles. Roles belong to the whole cluster: another database of it may have
-- made this one already.
DO $$
BEGIN
    CREATE ROLE mpp_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
EXCEPTION WHEN duplicate_object THEN
    NULL;
END
$$;
-- The server's login role switches to it with SET ROLE; a superuser may
-- always, anyone else needs membership.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT mpp_app TO %I', current_user);
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO mpp_app;
GRANT SELECT, INSERT ON requests, audit_log, notification_attempts TO mpp_app;
GRANT SELECT, INSERT, UPDATE (status, decided_at, decided_by, reason, reject_code, review_flags)
    ON registrations TO mpp_app;
GRANT SELECT, INSERT, UPDATE (repeats, mismatched_repeats, last_repeat_at) ON request_repeats TO mpp_app;
GRANT SELECT, UPDATE (n) ON registration_counts TO mpp_app;
GRANT SELECT, INSERT, UPDATE (status, attempts, round_attempts, next_attempt_at, last_error, last_result_code,
                              last_http_status, delivered_at)
    ON notifications TO mpp_app;
GRANT SELECT, INSERT, UPDATE (disabled_at) ON users TO mpp_app;
GRANT SELECT, INSERT, UPDATE (last_seen_at), DELETE ON sessions TO mpp_app;
GRANT SELECT, INSERT, UPDATE (succeeded), DELETE ON sign_in_attempts TO mpp_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO mpp_app;
