-- The transactional outbox: a decision and its notifications commit together.
-- Each row's body is fixed when it is written, so every attempt sends the same bytes.
CREATE TABLE notifications (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id         bigint      NOT NULL REFERENCES registrations (id),
    registration_request_id text        NOT NULL,
    target                  text        NOT NULL,
    -- The merchant's registrationNotifyUrl, or for Alipay+ the path under ALIPAY_GATEWAY_URL.
    url                     text        NOT NULL,
    body                    text        NOT NULL,
    status                  text        NOT NULL DEFAULT 'pending',
    -- Every claim increments `attempts`: the fencing token of the attempt in flight.
    attempts                integer     NOT NULL DEFAULT 0,
    -- Attempts since the row was (re-)queued: the position in the retry schedule.
    round_attempts          integer     NOT NULL DEFAULT 0,
    -- When the next attempt is due; a claim moves it to the end of the lease, so a
    -- row whose worker died becomes due again by itself.
    next_attempt_at         timestamptz NOT NULL DEFAULT now(),
    last_error              text,
    last_result_code        text,
    last_http_status        integer,
    created_at              timestamptz NOT NULL DEFAULT now(),
    delivered_at            timestamptz,
    CONSTRAINT notifications_target_check CHECK (target IN ('alipay', 'merchant')),
    CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    CONSTRAINT notifications_delivered_check CHECK ((status = 'delivered') = (delivered_at IS NOT NULL)),
    CONSTRAINT notifications_one_per_target UNIQUE (registration_id, target)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_by_request ON notifications (registration_request_id);
CREATE INDEX notifications_unfinished ON notifications (status, target) WHERE status IN ('failed', 'dead');

CREATE TABLE notification_attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id bigint      NOT NULL REFERENCES notifications (id),
    attempt         integer     NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     integer     NOT NULL,
    http_status     integer,
    result_code     text,
    error           text,
    outcome         text        NOT NULL,
    CONSTRAINT notification_attempts_outcome_check CHECK (outcome IN ('delivered', 'retry', 'failed', 'dead')),
    CONSTRAINT notification_attempts_once UNIQUE (notification_id, attempt)
);

-- Wake the workers of every instance when work is queued; delivered at commit.
CREATE FUNCTION wake_notifier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mpp_notifications', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER wake_notifier AFTER INSERT OR UPDATE OF status ON notifications
    FOR EACH ROW WHEN (NEW.status = 'pending') EXECUTE FUNCTION wake_notifier();

CREATE VIEW ops.notifications AS
SELECT n.registration_request_id,
       n.target,
       n.url,
       n.status,
       n.attempts,
       n.next_attempt_at,
       n.last_error,
       n.delivered_at,
       n.last_result_code,
       n.last_http_status,
       n.created_at,
       n.id AS notification_id
  FROM public.notifications n;

CREATE TRIGGER refuse_row_write INSTEAD OF INSERT OR UPDATE OR DELETE ON ops.notifications
    FOR EACH ROW EXECUTE FUNCTION ops.refuse_write();
CREATE TRIGGER refuse_statement_write BEFORE INSERT OR UPDATE OR DELETE ON ops.notifications
    FOR EACH STATEMENT EXECUTE FUNCTION ops.refuse_write();
