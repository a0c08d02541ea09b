-- Accounts that can be run: when each last signed in, and the changes the
-- server makes to an account (role, password) as the application role.
ALTER TABLE users ADD COLUMN last_sign_in_at timestamptz;

GRANT UPDATE (role, password_hash, last_sign_in_at) ON users TO mpp_app;
