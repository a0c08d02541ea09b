DROP VIEW ops.audit_log;
DROP VIEW ops.pending_reviews;
DROP TRIGGER audit_registration ON registrations;
DROP FUNCTION audit_registration();
DROP TABLE audit_log;
DROP FUNCTION refuse_audit_change();
DROP TABLE sessions;
DROP TABLE users;
DROP TRIGGER guard_registration_change ON registrations;
DROP FUNCTION guard_registration_change();
DROP INDEX registrations_by_merchant_id;
DROP INDEX registrations_merchant_name_prefix;
ALTER TABLE registrations
    DROP CONSTRAINT registrations_reject_code_check,
    DROP CONSTRAINT registrations_reason_check,
    DROP CONSTRAINT registrations_decided_check,
    DROP COLUMN reject_code;
