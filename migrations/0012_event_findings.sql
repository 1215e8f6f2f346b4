-- What each screened event could rule a contact out by (issue 11: an hour at national peak).
--
-- Migration 0010 screens each event when it is stored, and a number's events are read back only
-- when their screen says they could rule a contact out. A busy number still gains such events
-- for as long as it calls (the feed simulator's thousand numbers did: a median of 21 per number
-- after five minutes at 1,000 events/s, every one read and parsed for each new event of its
-- number, and the consumer's memory rose with them). The rules look at a related event only
-- for the rules it matches, and find a rule on one such event as on any other. So a screen now
-- also keeps what it found (rules::RuleOutFindings: "exclusion:<id>", "under_minimum_age",
-- "consent_declined", "vulnerable"), and of a number's events screened under the rules in force
-- only the newest for each finding is read back, picked in the index below without touching the
-- rows:
--
--   screen_findings  sorted; NULL when the screen found nothing (or there was none)
--
-- Screens made before this (versions without "/findings", EventScreen::kFormat) stored no
-- findings: they count as made under other rules and are read back whole until the sweep
-- screens them again.
ALTER TABLE events ADD COLUMN screen_findings text[];

CREATE INDEX events_phone_findings ON events (phone_hash, screened_with, screen_findings, occurred_at)
  INCLUDE (event_id) WHERE phone_hash IS NOT NULL AND screen_findings IS NOT NULL;
-- Read only for the numbers' hits, which the index above now finds.
DROP INDEX events_phone_screen_hit;
