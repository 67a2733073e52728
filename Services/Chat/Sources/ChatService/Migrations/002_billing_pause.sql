-- Billing's word on a chat: its free minutes (billing.chat-free-minutes.v1), a pause while the
-- member adds funds (billing.chat-paused.v1 / chat-resumed.v1; paused time is not billed), and
-- where the transcript's paid phase begins.
ALTER TABLE chats
    ADD COLUMN free_minutes int NOT NULL DEFAULT 0,
    ADD COLUMN paused_at timestamptz,
    -- Seconds of the active phase spent paused, before the current pause.
    ADD COLUMN paused_seconds int NOT NULL DEFAULT 0,
    ADD COLUMN paid_after_seq bigint;
