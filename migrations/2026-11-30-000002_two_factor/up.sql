-- Two-factor sign-in (TOTP, RFC 6238). The secret is stored sealed
-- (AES-256-GCM, nonce || ciphertext || tag) with a key the database never
-- sees; the last accepted time step makes every code good for one use.
ALTER TABLE users
    ADD COLUMN totp_secret      bytea,
    ADD COLUMN totp_enrolled_at timestamptz,
    ADD COLUMN totp_last_step   bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT users_totp_enrolled_has_secret
        CHECK (totp_enrolled_at IS NULL OR totp_secret IS NOT NULL);

-- Ten single-use recovery codes per enrolment, stored as SHA-256 hashes
-- (they carry 50 random bits each: no slow hash needed).
CREATE TABLE recovery_codes (
    user_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea       NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- Between the password and the second factor: no session exists yet, only
-- this short-lived challenge, found by the hash of a cookie.
CREATE TABLE sign_in_challenges (
    id_hash        bytea       PRIMARY KEY,
    user_id        bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token     text        NOT NULL,
    address        text        NOT NULL,
    pending_secret bytea,
    created_at     timestamptz NOT NULL DEFAULT now()
);

GRANT UPDATE (totp_secret, totp_enrolled_at, totp_last_step) ON users TO mpp_app;
GRANT SELECT, INSERT, DELETE, UPDATE (used_at) ON recovery_codes TO mpp_app;
GRANT SELECT, INSERT, DELETE, UPDATE (pending_secret) ON sign_in_challenges TO mpp_app;
