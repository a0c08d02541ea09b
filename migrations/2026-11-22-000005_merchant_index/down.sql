DROP INDEX registrations_by_merchant;
CREATE INDEX registrations_by_merchant ON registrations (merchant_key, status);
CREATE INDEX registrations_by_merchant_id ON registrations (reference_merchant_id);
