-- Trigram matching, for search that forgives typos (search_words). In a provisioned database the platform tool
-- has created it already (services may not create extensions); this line is for a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- The fixed set of categories advisors work in, in the order front ends list them.
CREATE TABLE categories (
    slug text PRIMARY KEY,
    name text NOT NULL,
    position int NOT NULL UNIQUE
);
INSERT INTO categories (slug, name, position) VALUES
    ('psychic-readings', 'Psychic readings', 1),
    ('tarot', 'Tarot', 2),
    ('astrology', 'Astrology', 3),
    ('love-relationships', 'Love & relationships', 4),
    ('dream-analysis', 'Dream analysis', 5),
    ('career-finance', 'Career & finance', 6),
    ('spiritual-guidance', 'Spiritual guidance', 7),
    ('numerology', 'Numerology', 8),
    ('mediums', 'Mediums', 9),
    ('pet-psychics', 'Pet psychics', 10);

-- The public names of the members and advisors the directory shows (advisors on their profiles,
-- members on their reviews). Accounts' events say who registered and whose name changed, never
-- the name: a name is wanted while name_requested > name_fetched, and the name task asks accounts
-- (`accounts.public-names`). Deleted on erasure: "former member".
CREATE TABLE people (
    account_id uuid PRIMARY KEY,
    role text NOT NULL,
    display_name text,
    name_requested bigint NOT NULL DEFAULT 1,
    name_fetched bigint NOT NULL DEFAULT 0
);
CREATE INDEX people_names_wanted ON people (account_id) WHERE name_requested > name_fetched;

CREATE TABLE advisors (
    account_id uuid PRIMARY KEY,
    -- The order of creation, for "newest" and as a stable key.
    seq bigserial NOT NULL UNIQUE,
    display_name text NOT NULL DEFAULT '',
    headline text,
    bio text,
    categories text[] NOT NULL DEFAULT '{}',
    -- The names of `categories`, kept beside them so that a category's name finds its advisors.
    category_text text NOT NULL DEFAULT '',
    price_cents int,
    languages text[] NOT NULL DEFAULT '{}',
    years_experience int,
    photo_url text,
    -- What the advisor or the chat service set; an `online` whose heartbeat is older than the
    -- grace window reads as offline at once, and is written offline by the presence task.
    status text NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'busy', 'offline')),
    heartbeat_at timestamptz,
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    -- While busy: the chat that took the advisor; only that chat gives them back.
    engaged_chat uuid,
    rating_sum bigint NOT NULL DEFAULT 0,
    review_count int NOT NULL DEFAULT 0,
    -- The mean rating in hundredths (rounded down), -1 before the first review: the sort key.
    rating_key bigint GENERATED ALWAYS AS (CASE WHEN review_count > 0 THEN (rating_sum * 100) / review_count ELSE -1 END) STORED,
    created_at timestamptz NOT NULL DEFAULT now(),
    listed boolean GENERATED ALWAYS AS (headline IS NOT NULL AND cardinality(categories) > 0 AND price_cents IS NOT NULL) STORED,
    search_text text GENERATED ALWAYS AS (
        lower(display_name || ' ' || category_text || ' ' || coalesce(headline, '') || ' ' || coalesce(bio, ''))) STORED,
    document tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', display_name || ' ' || category_text), 'A')
        || setweight(to_tsvector('simple', coalesce(headline, '')), 'B')
        || setweight(to_tsvector('simple', coalesce(bio, '')), 'C')) STORED,
    -- One of the demo advisors a local run fills an empty directory with (DIRECTORY_DEMO_DATA=1).
    demo boolean NOT NULL DEFAULT false
);
CREATE INDEX advisors_document ON advisors USING gin (document) WHERE listed;
CREATE INDEX advisors_categories ON advisors USING gin (categories) WHERE listed;
CREATE INDEX advisors_by_rating ON advisors (rating_key DESC, account_id) WHERE listed;
CREATE INDEX advisors_by_reviews ON advisors (review_count DESC, account_id) WHERE listed;
CREATE INDEX advisors_by_price ON advisors (price_cents, account_id) WHERE listed;
CREATE INDEX advisors_by_newest ON advisors (seq DESC, account_id) WHERE listed;
CREATE INDEX advisors_online ON advisors (heartbeat_at) WHERE status = 'online';

-- Every word the profiles have held: search corrects a word no profile begins with to the
-- known words closest to it by trigrams ("tarrot" to "tarot"), looked up here, in a table of
-- thousands of words, rather than in the text of every profile. Words are never removed: a
-- stale one only widens a corrected query by a word nobody holds.
CREATE TABLE search_words (word text COLLATE "C" PRIMARY KEY);
CREATE INDEX search_words_trigrams ON search_words USING gin (word public.gin_trgm_ops);
CREATE FUNCTION remember_search_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Words with a letter: numbers are not corrected, and would crowd the list.
    INSERT INTO search_words (word) SELECT lexeme FROM unnest(NEW.document) WHERE lexeme ~ '[[:alpha:]]'
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER advisors_search_words AFTER INSERT OR UPDATE OF display_name, category_text, headline, bio ON advisors
    FOR EACH ROW EXECUTE FUNCTION remember_search_words();

-- Chats a member may review: ended and paid, as billing announced them.
CREATE TABLE reviewable_chats (
    chat_id uuid PRIMARY KEY,
    member_id uuid NOT NULL,
    advisor_id uuid NOT NULL,
    ended_at timestamptz NOT NULL
);
CREATE INDEX reviewable_chats_member ON reviewable_chats (member_id);
CREATE INDEX reviewable_chats_advisor ON reviewable_chats (advisor_id);

CREATE TABLE reviews (
    id uuid PRIMARY KEY,
    seq bigserial NOT NULL UNIQUE,
    -- One review per chat, by construction.
    chat_id uuid NOT NULL UNIQUE,
    advisor_id uuid NOT NULL,
    -- NULL once the author was erased: the review stays, under "former member".
    author_id uuid,
    rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    reply_text text,
    replied_at timestamptz,
    -- Hidden by staff after reports: out of every listing and of the advisor's rating.
    hidden_at timestamptz
);
CREATE INDEX reviews_by_advisor ON reviews (advisor_id, seq DESC);
CREATE INDEX reviews_by_author ON reviews (author_id) WHERE author_id IS NOT NULL;

CREATE TABLE favorites (
    member_id uuid NOT NULL,
    advisor_id uuid NOT NULL,
    notify_when_online boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    seq bigserial NOT NULL UNIQUE,
    -- When the member was last told this advisor came online: at most once an hour.
    notified_at timestamptz,
    PRIMARY KEY (member_id, advisor_id)
);
CREATE INDEX favorites_by_advisor ON favorites (advisor_id) WHERE notify_when_online;

-- Licenses and certifications advisors submit; shown on the profile only once verified.
CREATE TABLE credentials (
    id uuid PRIMARY KEY,
    seq bigserial NOT NULL UNIQUE,
    advisor_id uuid NOT NULL,
    kind text NOT NULL CHECK (kind IN ('license', 'certification')),
    issuer text NOT NULL,
    number text NOT NULL,
    expires_on date NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'verified', 'rejected')),
    submitted_at timestamptz NOT NULL DEFAULT now(),
    decided_at timestamptz
);
CREATE INDEX credentials_by_advisor ON credentials (advisor_id);
CREATE INDEX credentials_pending ON credentials (seq) WHERE status = 'pending';

-- Members' reports of reviews to staff, one per person and review; a staff decision closes them.
CREATE TABLE review_reports (
    review_id uuid NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    reporter_id uuid NOT NULL,
    reason text NOT NULL CHECK (reason IN ('spam', 'abuse', 'fake', 'off_topic', 'other')),
    note text,
    created_at timestamptz NOT NULL DEFAULT now(),
    closed_at timestamptz,
    PRIMARY KEY (review_id, reporter_id)
);
CREATE INDEX review_reports_open ON review_reports (created_at) WHERE closed_at IS NULL;
CREATE INDEX review_reports_by_reporter ON review_reports (reporter_id);
