ALTER TABLE users
    DROP CONSTRAINT users_sso_identity_whole,
    DROP CONSTRAINT users_sso_identity_key,
    DROP COLUMN sso_subject,
    DROP COLUMN sso_issuer;
