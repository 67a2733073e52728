-- The plain copies of what 004 seals, gone once every row was sealed.
ALTER TABLE accounts
    DROP COLUMN email,
    DROP COLUMN email_normalized,
    DROP COLUMN display_name,
    DROP COLUMN country,
    DROP COLUMN source;
ALTER TABLE sessions DROP COLUMN ip, DROP COLUMN user_agent;
ALTER TABLE sign_in_attempts DROP COLUMN ip, DROP COLUMN user_agent;
