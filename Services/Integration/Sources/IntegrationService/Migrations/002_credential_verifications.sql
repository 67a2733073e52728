-- Advisors' credentials on their way to the verification provider: which credential (an id; its
-- details are asked of the directory when sent), where the request stands, and the provider's id.
CREATE TABLE credential_verifications (
    credential_id uuid PRIMARY KEY,
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'done', 'failed')),
    attempts int NOT NULL DEFAULT 0,
    due_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    provider_id text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credential_verifications_due ON credential_verifications (due_at) WHERE status = 'queued';
