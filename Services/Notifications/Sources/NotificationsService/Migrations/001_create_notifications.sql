-- A person's in-app inbox, and their settings: channels turned off per kind (every channel is on
-- unless a row here says otherwise) and quiet hours in their time zone.
CREATE TABLE notices (
    id uuid PRIMARY KEY,
    seq bigserial NOT NULL UNIQUE,
    account_id uuid NOT NULL,
    kind text NOT NULL,
    text text NOT NULL,
    -- JSON object of ids (thread, post, advisor…) the notice is about.
    subject text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz
);
CREATE INDEX notices_of_account ON notices (account_id, seq DESC);
CREATE INDEX notices_unread ON notices (account_id, seq DESC) WHERE read_at IS NULL;
CREATE INDEX notices_by_age ON notices (created_at);

CREATE TABLE channel_settings (
    account_id uuid NOT NULL,
    kind text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('email', 'sms', 'inApp')),
    enabled boolean NOT NULL,
    PRIMARY KEY (account_id, kind, channel)
);

CREATE TABLE quiet_hours (
    account_id uuid PRIMARY KEY,
    starts text NOT NULL CHECK (starts ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    ends text NOT NULL CHECK (ends ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    time_zone text NOT NULL
);
