-- Costly attempts (sign-ins, registrations, password re-checks) are counted per key in one
-- atomic upsert before the password is checked (AttemptThrottle). The key is an HMAC-SHA256 digest of
-- what is counted (an address, an email, both, an account), so no email or address is kept in
-- clear; rows go soon after their window ends.
CREATE TABLE attempt_counters (
    key bytea PRIMARY KEY,
    count integer NOT NULL,
    window_ends timestamptz NOT NULL
);
CREATE INDEX attempt_counters_window_ends ON attempt_counters (window_ends);

-- The counters replace counting the history, which therefore keeps only an account's own
-- attempts, without the email typed: an attempt for no account kept that email forever.
DELETE FROM sign_in_attempts WHERE account_id IS NULL;
DROP INDEX sign_in_attempts_email;
DROP INDEX sign_in_attempts_ip;
ALTER TABLE sign_in_attempts DROP COLUMN email_normalized;
