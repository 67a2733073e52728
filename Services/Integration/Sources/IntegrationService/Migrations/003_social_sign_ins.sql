-- Social sign-ins started and not finished yet (OpenID Connect): what ties the provider's answer
-- to its start. The state and the nonce are kept as hashes (the answer is checked against them);
-- the PKCE verifier, which must be sent on, is sealed. Each row is used once, and dropped when
-- used or expired.
CREATE TABLE social_sign_ins (
    state_hash bytea PRIMARY KEY,
    provider text NOT NULL,
    nonce_hash bytea NOT NULL,
    verifier_sealed bytea NOT NULL,
    redirect_uri text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX social_sign_ins_expiry ON social_sign_ins (expires_at);
