-- A number's newest event for each finding, read list by list (issue 8: ingest keeps its goal).
--
-- Migration 0012 reads back, of a number's screened events, the newest for each finding, by
-- walking all of the number's events with findings in the index events_phone_findings and
-- keeping the newest per finding: a cost that grows with the number's history within the
-- look-back (90 days), paid by each new event of the number and again before each of its texts.
-- A number's events share a handful of findings lists however many there are, so the read now
-- walks the lists instead (SURVEYD_NEWEST_FINDINGS): backwards, one index descent per list,
-- whose first entry is the list's newest event. That needs the index to order a list's events as
-- the read-back picks them, by occurred_at and then event_id byte by byte, hence event_id in the
-- key (in the "C" collation) rather than included.
CREATE INDEX events_phone_newest_findings
  ON events (phone_hash, screened_with, screen_findings, occurred_at, event_id COLLATE "C")
  WHERE phone_hash IS NOT NULL AND screen_findings IS NOT NULL;
DROP INDEX events_phone_findings;
