-- One index serves both the intake's "this merchant's (and store's) live
-- registrations" and the inquiry's "every registration of this merchant":
-- one index fewer to maintain on every insert.
DROP INDEX registrations_by_merchant;
DROP INDEX registrations_by_merchant_id;
CREATE INDEX registrations_by_merchant ON registrations (reference_merchant_id, merchant_key, status);
