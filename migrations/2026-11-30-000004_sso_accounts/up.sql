-- Accounts of the wallet's identity provider: keyed by issuer and subject,
-- never by the (changeable) name they are shown by.
ALTER TABLE users
    ADD COLUMN sso_issuer  text,
    ADD COLUMN sso_subject text,
    ADD CONSTRAINT users_sso_identity_key UNIQUE (sso_issuer, sso_subject),
    ADD CONSTRAINT users_sso_identity_whole CHECK ((sso_issuer IS NULL) = (sso_subject IS NULL));
