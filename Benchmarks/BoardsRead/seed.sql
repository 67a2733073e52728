-- 10,000 threads of 100 posts each (1,000,000 posts) on the general board, written by the
-- accounts listed in bench_authors (registered through the API by the run script, so their
-- names come from accounts as in production). Words from a small vocabulary, so search has work.
SET search_path TO boards;
CREATE TEMP TABLE pool AS
SELECT (SELECT array_agg(account_id ORDER BY account_id) FROM bench_authors) AS authors,
       ARRAY['tarot', 'moon', 'card', 'reading', 'love', 'career', 'dream', 'water', 'star', 'sign', 'tower', 'cup',
             'sword', 'wand', 'pentacle', 'spread', 'question', 'answer', 'path', 'light'] AS words;
INSERT INTO people (account_id, acknowledged_at) SELECT account_id, now() - interval '30 days' FROM bench_authors ON CONFLICT DO NOTHING;

INSERT INTO threads (id, board, title, author_id, first_post_seq, rank, reply_count, created_at, last_post_at)
SELECT gen_random_uuid(), 'general', 'Thread ' || t || ' about the ' || words[1 + t % 20],
       authors[1 + t % cardinality(authors)], 0, 0, 99, now() - interval '30 days', now() - interval '30 days'
FROM pool, generate_series(1, 10000) AS t;

CREATE TEMP TABLE numbered_threads AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM threads WHERE board = 'general';
INSERT INTO posts (id, thread_id, author_id, text, created_at)
SELECT gen_random_uuid(), th.id, authors[1 + (th.n * 7 + p) % cardinality(authors)],
       'Post ' || p || ': my ' || words[1 + (th.n + p) % 20] || ' reading said the ' || words[1 + (th.n * 3 + p) % 20]
           || ' would come before the ' || words[1 + (th.n * 5 + p) % 20] || '.',
       now() - interval '30 days' + make_interval(secs => p)
FROM pool, numbered_threads th, generate_series(1, 100) AS p
ORDER BY th.n, p;

UPDATE threads t SET first_post_seq = s.first, rank = s.last
FROM (SELECT thread_id, min(seq) AS first, max(seq) AS last FROM posts GROUP BY thread_id) s
WHERE s.thread_id = t.id;
UPDATE boards SET thread_count = (SELECT count(*) FROM threads WHERE board = 'general') WHERE slug = 'general';
ANALYZE threads;
ANALYZE posts;
