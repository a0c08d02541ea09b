-- An account made on the users page is set up by its owner through a
-- one-time link: the password is theirs from the start, never the admin's.
CREATE TABLE account_setups (
    token_hash bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);

GRANT SELECT, INSERT, DELETE ON account_setups TO mpp_app;
