-- Registrations per status, kept by triggers so that counting is a read of
-- a few rows instead of a scan of millions. Each status is spread over 64
-- slots (by registration id) so that concurrent inserts rarely wait on the
-- same counter row.
CREATE TABLE registration_counts (
    status text    NOT NULL,
    slot   integer NOT NULL,
    n      bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (status, slot)
);

INSERT INTO registration_counts (status, slot)
SELECT s, g FROM unnest(ARRAY['PENDING', 'APPROVED', 'REJECTED', 'CANCELLED']) s, generate_series(0, 63) g;

UPDATE registration_counts c SET n = x.n
  FROM (SELECT status, (id % 64)::integer AS slot, count(*) AS n FROM registrations GROUP BY 1, 2) x
 WHERE c.status = x.status AND c.slot = x.slot;

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
CREATE TRIGGER count_registration AFTER INSERT OR UPDATE OF status ON registrations
    FOR EACH ROW EXECUTE FUNCTION count_registration();

-- The review queue over every status, newest first.
CREATE INDEX registrations_by_received ON registrations (received_at, id);
