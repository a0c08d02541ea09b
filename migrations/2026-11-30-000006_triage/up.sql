-- Triage rules and screening lists.

ALTER TABLE registrations
    -- The rule that decided at intake (approve, reject, review or four
    -- eyes), its action, and the SHA-256 of the rules file in force: every
    -- decision of a policy says which policy it was. No rule and a version:
    -- the rules were in force and none decided (a person reviews).
    ADD COLUMN triage_rule   text,
    ADD COLUMN triage_action text,
    ADD COLUMN rules_version text,
    ADD CONSTRAINT registrations_triage_check
        CHECK ((triage_rule IS NULL) = (triage_action IS NULL)
               AND (triage_rule IS NULL OR rules_version IS NOT NULL)
               AND (triage_action IS NULL OR triage_action IN ('approve', 'reject', 'review', 'four_eyes')));

-- /admin/rules counts each rule's decisions through registrations_by_received:
-- an index of its own would cost every registration an insertion for a
-- page opened now and then.

-- A decision at intake by a rule is audited as that rule's, with the
-- version of the rules, in the same transaction as the registration.
CREATE OR REPLACE FUNCTION audit_registration() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO audit_log (actor, action, registration_request_id, to_status, detail)
        VALUES ('alipay+', 'registration.received', NEW.registration_request_id, NEW.status,
                CASE
                    -- A decision's version is in its own entry; the row keeps it for a routing.
                    WHEN NEW.triage_rule IS NOT NULL THEN 'rule ' || NEW.triage_rule || ': ' || NEW.triage_action
                    WHEN NEW.status = 'APPROVED' THEN 'approved at once (auto approval mode)'
                END);
        IF NEW.status <> 'PENDING' AND NEW.triage_rule IS NOT NULL THEN
            INSERT INTO audit_log (actor, action, registration_request_id, from_status, to_status, detail)
            VALUES (NEW.decided_by, 'registration.' || lower(NEW.status), NEW.registration_request_id,
                    'PENDING', NEW.status,
                    concat_ws(': ', NEW.reject_code, NEW.reason) || format(' (rules version %s)', NEW.rules_version));
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO audit_log (actor, action, registration_request_id, from_status, to_status, detail)
        VALUES (coalesce(NEW.decided_by, current_user), 'registration.' || lower(NEW.status),
                NEW.registration_request_id, OLD.status, NEW.status,
                nullif(concat_ws(': ', NEW.reject_code, NEW.reason), ''));
    END IF;
    RETURN NULL;
END
$$;

-- A screening list: its current version only; each load replaces it whole.
CREATE TABLE screening_lists (
    name      text        PRIMARY KEY,
    kind      text        NOT NULL,
    version   integer     NOT NULL,
    entries   integer     NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT screening_lists_name_check CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    CONSTRAINT screening_lists_kind_check CHECK (kind IN ('names', 'registration_numbers', 'domains')),
    CONSTRAINT screening_lists_version_check CHECK (version > 0 AND entries >= 0)
);

CREATE TABLE screening_entries (
    list_name text NOT NULL REFERENCES screening_lists (name),
    entry     text NOT NULL,
    -- The entry as compared (see domain::screening), made when loaded.
    key       text NOT NULL,
    PRIMARY KEY (list_name, entry)
);

-- A reviewer's "Not a match": this merchant's value of this field against
-- this entry of this list is not raised again, until one of them changes.
CREATE TABLE hit_dismissals (
    id                    bigserial   PRIMARY KEY,
    reference_merchant_id text        NOT NULL,
    list_name             text        NOT NULL,
    entry                 text        NOT NULL,
    field                 text        NOT NULL,
    value                 text        NOT NULL,
    dismissed_by          text        NOT NULL,
    dismissed_at          timestamptz NOT NULL DEFAULT now(),
    note                  text        NOT NULL CHECK (btrim(note) <> ''),
    CONSTRAINT hit_dismissals_once UNIQUE (reference_merchant_id, list_name, entry, field, value)
);

-- A registration's field matched a list entry: at intake, or when a new
-- version of the list was loaded (then also for approved merchants).
CREATE TABLE list_hits (
    id              bigserial        PRIMARY KEY,
    registration_id bigint           NOT NULL REFERENCES registrations (id),
    list_name       text             NOT NULL,
    list_version    integer          NOT NULL,
    entry           text             NOT NULL,
    field           text             NOT NULL,
    value           text             NOT NULL,
    score           double precision NOT NULL CHECK (score > 0 AND score <= 1),
    -- The registration's status when the hit was found.
    status_then     text             NOT NULL,
    found_at        timestamptz      NOT NULL DEFAULT now(),
    dismissal_id    bigint           REFERENCES hit_dismissals (id),
    CONSTRAINT list_hits_once UNIQUE (registration_id, list_name, list_version, entry, field)
);
CREATE INDEX list_hits_by_found_at ON list_hits (found_at);

GRANT SELECT, INSERT, UPDATE (kind, version, entries, loaded_at) ON screening_lists TO mpp_app;
GRANT SELECT, INSERT, DELETE ON screening_entries TO mpp_app;
GRANT SELECT, INSERT ON hit_dismissals TO mpp_app;
GRANT SELECT, INSERT, UPDATE (dismissal_id) ON list_hits TO mpp_app;
GRANT USAGE ON SEQUENCE hit_dismissals_id_seq, list_hits_id_seq TO mpp_app;

CREATE VIEW ops.list_hits AS
SELECT h.list_name AS list, h.list_version AS version, h.entry, h.field, h.score,
       r.registration_request_id, r.reference_merchant_id, h.value, h.status_then, r.status,
       h.found_at, d.dismissed_by, d.dismissed_at, d.note AS dismissal_note
  FROM public.list_hits h
  JOIN public.registrations r ON r.id = h.registration_id
  LEFT JOIN public.hit_dismissals d ON d.id = h.dismissal_id;
CREATE TRIGGER refuse_row_write INSTEAD OF INSERT OR UPDATE OR DELETE ON ops.list_hits
    FOR EACH ROW EXECUTE FUNCTION ops.refuse_write();
CREATE TRIGGER refuse_statement_write BEFORE INSERT OR UPDATE OR DELETE ON ops.list_hits
    FOR EACH STATEMENT EXECUTE FUNCTION ops.refuse_write();
