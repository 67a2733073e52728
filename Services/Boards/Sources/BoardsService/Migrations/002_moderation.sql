-- Moderation: flags by signed-in people, posts hidden (by flags pending review, or by a
-- moderator) or held for review (a new account's likely spam), moderators scoped to boards, and
-- authors silenced for a while.
ALTER TABLE posts
    ADD COLUMN hidden_at timestamptz,
    -- Why it is hidden, as its author is told.
    ADD COLUMN hidden_reason text,
    -- Held for review before anyone else sees it: no counts, no notifications until approved.
    ADD COLUMN held boolean NOT NULL DEFAULT false,
    -- In the moderators' queue: flagged, hidden by flags, or held.
    ADD COLUMN needs_review boolean NOT NULL DEFAULT false,
    ADD COLUMN flag_weight double precision NOT NULL DEFAULT 0;
CREATE INDEX posts_to_review ON posts (seq) WHERE needs_review;

CREATE TABLE flags (
    seq bigserial PRIMARY KEY,
    post_id uuid NOT NULL REFERENCES posts (id),
    -- NULL once the flagger is erased.
    flagger_id uuid,
    reason text NOT NULL CHECK (reason IN ('spam', 'abuse', 'off_topic', 'other')),
    note text,
    weight double precision NOT NULL CHECK (weight > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    outcome text CHECK (outcome IN ('upheld', 'rejected'))
);
CREATE UNIQUE INDEX flags_once ON flags (post_id, flagger_id) WHERE flagger_id IS NOT NULL;
CREATE INDEX flags_by_flagger ON flags (flagger_id, created_at DESC) WHERE flagger_id IS NOT NULL;
CREATE INDEX flags_of_post ON flags (post_id);

-- How often each flagger's flags were upheld or rejected: their flags weigh more, or less.
CREATE TABLE flaggers (
    account_id uuid PRIMARY KEY,
    upheld int NOT NULL DEFAULT 0,
    rejected int NOT NULL DEFAULT 0
);

ALTER TABLE people ADD COLUMN silenced_until timestamptz;

-- A moderator with rows here moderates those boards only; one with none, every board.
CREATE TABLE board_moderators (
    account_id uuid NOT NULL,
    board text NOT NULL REFERENCES boards (slug),
    PRIMARY KEY (account_id, board)
);

-- A thread whose first post is hidden or held is not listed.
ALTER TABLE threads ADD COLUMN shown boolean NOT NULL DEFAULT true;
