DROP INDEX registrations_by_received;
DROP TRIGGER count_registration ON registrations;
DROP FUNCTION count_registration();
DROP TABLE registration_counts;
