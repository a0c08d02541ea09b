DROP TABLE sign_in_challenges;
DROP TABLE recovery_codes;
REVOKE UPDATE (totp_secret, totp_enrolled_at, totp_last_step) ON users FROM mpp_app;
ALTER TABLE users
    DROP CONSTRAINT users_totp_enrolled_has_secret,
    DROP COLUMN totp_last_step,
    DROP COLUMN totp_enrolled_at,
    DROP COLUMN totp_secret;
