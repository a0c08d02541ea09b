REVOKE UPDATE (role, password_hash, last_sign_in_at) ON users FROM mpp_app;
ALTER TABLE users DROP COLUMN last_sign_in_at;
