-- Screened events (issue 11: an hour at national peak; EventScreen in
-- include/surveyd/core/decision.hpp).
--
-- Deciding an event reads back every stored event of its number within the look-back (90 days),
-- because one of them may rule the contact out (a domestic-abuse call from the same phone last
-- month). A busy number has thousands, read and parsed for each of its new events; at 1,000
-- events/s over the thousand numbers of the feed simulator, ingest slowed to a crawl within
-- minutes and the consumer's memory grew with every batch. Each event is now screened when it
-- is stored, under the rules of the time: could it, as another event of its number, rule a
-- contact out? The store reads back only those that could, and those screened under other rules
-- (or, like every event stored before this migration, under none), which it reads as before.
--
--   screened_with  the rules' version the screen was made under; NULL: not screened
--   screen_hit     what it found: true when the event could rule another contact out
ALTER TABLE events ADD COLUMN screened_with text, ADD COLUMN screen_hit boolean;

-- The number's events that could rule a contact out.
CREATE INDEX events_phone_screen_hit ON events (phone_hash, occurred_at)
  WHERE phone_hash IS NOT NULL AND screen_hit;
-- The number's events screened under other rules, or none: few once a sweep has screened the
-- stored events under the rules in force (PgStore::ScreenEvents), so looked up by version.
CREATE INDEX events_phone_screened_with ON events (phone_hash, screened_with)
  WHERE phone_hash IS NOT NULL;
