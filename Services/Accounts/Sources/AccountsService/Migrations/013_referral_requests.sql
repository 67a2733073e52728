-- Every partner POST carries an Idempotency-Key: the first answer to a key is the answer to any
-- repeat of it with the same body (a day), another body is refused.
CREATE TABLE referral_code_requests (
    partner_id text NOT NULL REFERENCES partners (id),
    idempotency_key text NOT NULL,
    request_hash bytea NOT NULL,
    code text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner_id, idempotency_key)
);
