-- The role belongs to the whole cluster and may serve other databases: only
-- what it was granted here is taken back.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM mpp_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM mpp_app;
REVOKE USAGE ON SCHEMA public FROM mpp_app;

CREATE INDEX audit_log_failed_sign_ins_by_actor ON audit_log (actor, at) WHERE action = 'user.sign_in_failed';
CREATE INDEX audit_log_failed_sign_ins_by_address ON audit_log (address, at) WHERE action = 'user.sign_in_failed';
DROP TABLE sign_in_attempts;
