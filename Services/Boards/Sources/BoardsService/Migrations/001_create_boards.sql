-- The message boards: boards, threads, posts (public by design), the earlier texts of edited
-- posts (moderators' only), and the people who posted: when they acknowledged that posts are
-- public, and a trust tier set by hand.
CREATE TABLE boards (
    slug text PRIMARY KEY CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 40),
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    position int NOT NULL,
    advisors_only boolean NOT NULL DEFAULT false,
    archived boolean NOT NULL DEFAULT false,
    thread_count int NOT NULL DEFAULT 0 CHECK (thread_count >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO boards (slug, name, description, position, advisors_only) VALUES
    ('general', 'General', 'Anything about readings, advisors and the platform.', 1, false),
    ('tarot', 'Tarot', 'Spreads, cards and what they told you.', 2, false),
    ('astrology', 'Astrology', 'Charts, transits and signs.', 3, false),
    ('love-relationships', 'Love & relationships', 'Matters of the heart.', 4, false),
    ('dreams', 'Dreams', 'What your dreams might mean.', 5, false),
    ('spiritual-growth', 'Spiritual growth', 'Meditation, intuition and the path.', 6, false),
    ('advisor-announcements', 'Advisor announcements', 'News from advisors: schedules, offers, events. Advisors start threads; members reply.', 7, true);

CREATE TABLE threads (
    id uuid PRIMARY KEY,
    board text NOT NULL REFERENCES boards (slug),
    title text NOT NULL,
    -- NULL once the author is erased, or for the platform's own threads (then `byline` names it).
    author_id uuid,
    byline text,
    first_post_seq bigint NOT NULL,
    -- The order on the board: the seq of the latest post, above all others while pinned.
    rank bigint NOT NULL,
    reply_count int NOT NULL DEFAULT 0 CHECK (reply_count >= 0),
    pinned boolean NOT NULL DEFAULT false,
    locked boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_post_at timestamptz NOT NULL DEFAULT now(),
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED
);
CREATE INDEX threads_of_board ON threads (board, rank DESC);
CREATE INDEX threads_of_author ON threads (author_id) WHERE author_id IS NOT NULL;
CREATE INDEX threads_search ON threads USING gin (search);

CREATE TABLE posts (
    id uuid PRIMARY KEY,
    seq bigserial NOT NULL UNIQUE,
    thread_id uuid NOT NULL REFERENCES threads (id),
    author_id uuid,
    byline text,
    -- Empty once deleted.
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    edited_at timestamptz,
    deleted_at timestamptz,
    search tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
CREATE INDEX posts_of_thread ON posts (thread_id, seq);
CREATE INDEX posts_of_author ON posts (author_id, created_at DESC) WHERE author_id IS NOT NULL;
CREATE INDEX posts_search ON posts USING gin (search);

CREATE TABLE post_edits (
    id bigserial PRIMARY KEY,
    post_id uuid NOT NULL REFERENCES posts (id),
    -- The text the edit replaced.
    text text NOT NULL,
    replaced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX post_edits_of_post ON post_edits (post_id, id);

CREATE TABLE people (
    account_id uuid PRIMARY KEY,
    -- When they said they understood that posts are public (their first post needs it).
    acknowledged_at timestamptz NOT NULL DEFAULT now(),
    -- A moderator's word on their trust tier; NULL: from behaviour.
    tier int CHECK (tier IN (0, 1))
);
