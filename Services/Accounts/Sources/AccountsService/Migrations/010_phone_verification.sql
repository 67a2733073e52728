-- A phone number counts only once confirmed with a code texted to it. phone_sealed is the
-- verified number and phone_index its keyed hash (for a number that texts STOP); a number given
-- but not yet confirmed waits in phone_pending_sealed with the keyed hash of its code. Numbers
-- stored before verification existed were never confirmed: they wait for a code too.
ALTER TABLE accounts
    ADD COLUMN phone_index bytea,
    ADD COLUMN phone_pending_sealed bytea,
    ADD COLUMN phone_code_hash bytea,
    ADD COLUMN phone_code_expires_at timestamptz,
    ADD COLUMN phone_code_attempts int NOT NULL DEFAULT 0;
UPDATE accounts SET phone_pending_sealed = phone_sealed, phone_sealed = NULL WHERE phone_sealed IS NOT NULL;
CREATE INDEX accounts_phone_index ON accounts (phone_index) WHERE phone_index IS NOT NULL;

-- Numbers that texted STOP, by the same keyed hash: nothing is texted to them until they text START.
CREATE TABLE sms_stops (
    phone_index bytea PRIMARY KEY,
    stopped_at timestamptz NOT NULL DEFAULT now()
);
