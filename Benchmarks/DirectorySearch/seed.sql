-- 100,000 listed advisors and 1,000,000 reviews, written straight into the directory's tables
-- (the benchmark measures reading them). Names, headlines and categories come from small word
-- lists, so a text query matches about one advisor in ten, as "tarot" would.
SET search_path TO directory;
BEGIN;
INSERT INTO advisors (account_id, display_name, headline, bio, categories, category_text, price_cents, languages,
    years_experience, status, heartbeat_at, created_at)
SELECT gen_random_uuid(),
    (ARRAY['Luna','Orion','Sage','Marisol','Ezra','Ivy','Bram','Celeste','Dorian','Freya','Jasper','Lyra','Morgana','Nico',
        'Opal','Rowan','Selene','Theo','Willow','Aurora'])[1 + g % 20] || ' ' ||
    (ARRAY['Starweaver','Blake','Whitfield','Vega','Moon','Hollow','Quill','Ashgrove','Marlowe','Nightingale','Rivers',
        'Thorne','Vale','Wren','Everly','Fairchild','Grey','Holloway','Lark','Sterling','Frost','Hale','Ives'])[1 + g % 23]
        || ' ' || g,
    (ARRAY['Clear, compassionate readings', 'Your chart in plain words', 'Guidance for the heart',
        'Honest answers, no fluff', 'What your dreams say', 'Career crossroads', 'Gentle spiritual guidance',
        'The numbers in your name', 'Messages from loved ones', 'What your pet feels'])[1 + g % 10],
    'Readings with care, for ' || (g % 30) || ' years. Ask me anything about love, work and the road ahead.',
    ARRAY[(ARRAY['psychic-readings','tarot','astrology','love-relationships','dream-analysis','career-finance',
        'spiritual-guidance','numerology','mediums','pet-psychics'])[1 + g % 10],
        (ARRAY['love-relationships','career-finance','spiritual-guidance'])[1 + (g / 10) % 3]],
    (ARRAY['Psychic readings','Tarot','Astrology','Love & relationships','Dream analysis','Career & finance',
        'Spiritual guidance','Numerology','Mediums','Pet psychics'])[1 + g % 10] || ' ' ||
        (ARRAY['Love & relationships','Career & finance','Spiritual guidance'])[1 + (g / 10) % 3],
    99 + (g * 37) % 500,
    CASE WHEN g % 5 = 0 THEN ARRAY['en', 'es'] WHEN g % 7 = 0 THEN ARRAY['en', 'fr'] ELSE ARRAY['en'] END,
    g % 30,
    CASE WHEN g % 3 = 0 THEN 'online' WHEN g % 11 = 0 THEN 'busy' ELSE 'offline' END,
    now(),
    now() - make_interval(mins => g)
FROM generate_series(1, 100000) g;

INSERT INTO reviews (id, chat_id, advisor_id, author_id, rating, text, created_at)
SELECT gen_random_uuid(), gen_random_uuid(), a.account_id, NULL, 1 + (abs(hashtext(a.account_id::text || r)) % 5),
    'A thoughtful reading, thank you.', now() - make_interval(hours => r)
FROM advisors a, generate_series(1, 10) r;

UPDATE advisors a SET rating_sum = s.total, review_count = s.count
FROM (SELECT advisor_id, sum(rating) AS total, count(*) AS count FROM reviews GROUP BY advisor_id) s
WHERE s.advisor_id = a.account_id;
COMMIT;
VACUUM ANALYZE advisors;
VACUUM ANALYZE reviews;
