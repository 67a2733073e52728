-- The UTC days whose `referral.converted` messages a partner has been sent: each day once.
CREATE TABLE referral_webhook_days (
    partner_id text NOT NULL,
    day date NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, day)
);
