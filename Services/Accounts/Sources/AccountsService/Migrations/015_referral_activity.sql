-- What referred members do after signing up, counted per code and day as sign-ups are: their
-- first chats, the people who paid for chats and what they paid. Counts only, never who: the
-- account keeps its code, and whether its first chat and today's payment were counted, sealed.
ALTER TABLE referral_signups
    ALTER COLUMN signups SET DEFAULT 0,
    ADD COLUMN first_chats int NOT NULL DEFAULT 0,
    ADD COLUMN payers int NOT NULL DEFAULT 0,
    ADD COLUMN charged_cents bigint NOT NULL DEFAULT 0;
