-- Partners' referral codes, and how many accounts registered with each, per day: counts only,
-- never who (the account keeps its code, sealed, as its source).
CREATE TABLE referral_codes (
    code text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{4,40}$'),
    partner_id text NOT NULL REFERENCES partners (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_codes_of_partner ON referral_codes (partner_id, created_at);
CREATE TABLE referral_signups (
    code text NOT NULL REFERENCES referral_codes (code),
    day date NOT NULL,
    signups int NOT NULL,
    PRIMARY KEY (code, day)
);
