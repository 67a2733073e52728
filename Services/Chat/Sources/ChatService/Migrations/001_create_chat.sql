CREATE TABLE chats (
    id uuid PRIMARY KEY,
    -- The order of creation, for history pages.
    seq bigserial NOT NULL UNIQUE,
    -- NULL once that person was erased: "former member".
    member_id uuid,
    advisor_id uuid,
    status text NOT NULL CHECK (status IN ('requested', 'active', 'ended', 'declined', 'expired')),
    price_cents int NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    accepted_at timestamptz,
    ended_at timestamptz,
    end_reason text,
    last_seq bigint NOT NULL DEFAULT 0,
    -- The minutes of the active phase announced so far (chat.minute-started.v1), and when either
    -- side last wrote: a chat where both stay silent too long ends.
    minutes_started int NOT NULL DEFAULT 0,
    last_activity_at timestamptz,
    -- What the member paid, once billing settled the chat (billing.chat-settled.v1).
    charged_cents int,
    -- Once the chat is over, the status the directory gives the advisor back (online, or offline
    -- after a request they let expire); released_at says the directory has done it.
    release_to text CHECK (release_to IN ('online', 'offline')),
    released_at timestamptz,
    -- Written before the directory is asked for the advisor, and true once it gave them: a chat
    -- the directory refused is deleted, and one left unconfirmed by a crash expires and is released.
    engaged boolean NOT NULL DEFAULT false
);
CREATE INDEX chats_by_member ON chats (member_id, seq DESC);
-- One chat asked for or under way per member at a time.
CREATE UNIQUE INDEX chats_one_open_per_member ON chats (member_id) WHERE status IN ('requested', 'active');
CREATE INDEX chats_by_advisor ON chats (advisor_id, seq DESC);
CREATE INDEX chats_expiring ON chats (expires_at) WHERE status = 'requested';
CREATE INDEX chats_active ON chats (accepted_at) WHERE status = 'active';
CREATE INDEX chats_to_release ON chats (ended_at) WHERE release_to IS NOT NULL AND released_at IS NULL;

-- Each chat's own key (AES-256), sealed for each participant under a key derived from
-- CHAT_DATA_KEY and that person's id; erasing a person deletes their copy.
CREATE TABLE chat_keys (
    chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    account_id uuid NOT NULL,
    sealed_key bytea NOT NULL,
    PRIMARY KEY (chat_id, account_id)
);
CREATE INDEX chat_keys_by_account ON chat_keys (account_id);

-- Messages, sealed under their chat's key, bound to chat, number and sender; never in clear.
CREATE TABLE messages (
    chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    id uuid NOT NULL UNIQUE,
    sender_id uuid NOT NULL,
    client_message_id text NOT NULL,
    sealed_text bytea NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, seq),
    -- A retried send finds its first answer here.
    UNIQUE (chat_id, sender_id, client_message_id)
);
CREATE INDEX messages_by_sender ON messages (sender_id);
