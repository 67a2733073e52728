-- Every personal field is sealed under the account's own data key, so that destroying the key
-- (erasure) makes it unreadable in backups and the WAL too, and found by keyed digests only:
-- * accounts.personal_sealed: email, display name, country and source together;
-- * accounts.email_index: HMAC-SHA256 of the normalized email under ACCOUNTS_EMAIL_INDEX_KEY,
--   unique among live accounts, replacing the plain normalized email;
-- * sessions.client_sealed and sign_in_attempts.client_sealed: the address and user agent.
-- The accounts service seals existing rows at start-up (AccountsCommands.migrate), then 005
-- drops the plain columns.
ALTER TABLE accounts
    ADD COLUMN email_index bytea,
    ADD COLUMN personal_sealed bytea,
    ALTER COLUMN email DROP NOT NULL,
    ALTER COLUMN display_name DROP NOT NULL;
CREATE UNIQUE INDEX accounts_email_index_key ON accounts (email_index) WHERE erased_at IS NULL;
ALTER TABLE sessions
    ADD COLUMN client_sealed bytea,
    ALTER COLUMN ip DROP NOT NULL,
    ALTER COLUMN user_agent DROP NOT NULL;
ALTER TABLE sign_in_attempts
    ADD COLUMN client_sealed bytea,
    ALTER COLUMN ip DROP NOT NULL,
    ALTER COLUMN user_agent DROP NOT NULL;
