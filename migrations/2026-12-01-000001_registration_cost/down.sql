CREATE FUNCTION audit_registration() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE FUNCTION count_registration() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE registration_counts SET n = n + 1 WHERE status = NEW.status AND slot = NEW.id % 64;
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        UPDATE registration_counts SET n = n - 1 WHERE status = OLD.status AND slot = OLD.id % 64;
        UPDATE registration_counts SET n = n + 1 WHERE status = NEW.status AND slot = NEW.id % 64;
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER registration_changed ON registrations;
DROP FUNCTION registration_changed();
CREATE TRIGGER audit_registration AFTER INSERT OR UPDATE OF status ON registrations
    FOR EACH ROW EXECUTE FUNCTION audit_registration();
CREATE TRIGGER count_registration AFTER INSERT OR UPDATE OF status ON registrations
    FOR EACH ROW EXECUTE FUNCTION count_registration();
ALTER TABLE registrations ADD CONSTRAINT registrations_request_fkey
    FOREIGN KEY (registration_request_id) REFERENCES requests (registration_request_id);
