DROP VIEW ops.list_hits;
DROP TABLE list_hits;
DROP TABLE hit_dismissals;
DROP TABLE screening_entries;
DROP TABLE screening_lists;
CREATE OR REPLACE FUNCTION audit_registration() RETURNS trigger LANGUAGE plpgsql AS $$
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
ALTER TABLE registrations DROP COLUMN rules_version, DROP COLUMN triage_action, DROP COLUMN triage_rule;
