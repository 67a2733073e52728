-- The plain copies of what 004 seals, gone once every row was sealed. The accounts service seals
-- them at start-up between 004 and this migration; anything else that would run it early stops
-- here instead of losing data.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM accounts WHERE erased_at IS NULL AND (personal_sealed IS NULL OR email_index IS NULL))
        OR EXISTS (SELECT 1 FROM sessions WHERE ip IS NOT NULL AND client_sealed IS NULL)
        OR EXISTS (SELECT 1 FROM sign_in_attempts WHERE ip IS NOT NULL AND client_sealed IS NULL)
    THEN
        RAISE EXCEPTION 'accounts personal data is still in clear: the accounts service seals it before this migration';
    END IF;
END $$;
ALTER TABLE accounts
    DROP COLUMN email,
    DROP COLUMN email_normalized,
    DROP COLUMN display_name,
    DROP COLUMN country,
    DROP COLUMN source;
ALTER TABLE sessions DROP COLUMN ip, DROP COLUMN user_agent;
ALTER TABLE sign_in_attempts DROP COLUMN ip, DROP COLUMN user_agent;
