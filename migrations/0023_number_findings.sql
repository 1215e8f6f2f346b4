-- Each number's newest event for each finding, kept as events are written (issue 11: the hour
-- at national peak).
--
-- Migration 0015 finds a number's newest event for each finding by walking its findings lists in
-- the index events_phone_newest_findings, one descent per list. A busy number gathers many lists
-- (every combination of flags its calls carried: 53 for each of the soak's busy numbers after an
-- hour), and ingest's read-back, which walks them for every number of every batch, became the
-- largest cost of the hour (1,925 s of the database's time, 7.5 ms a batch) and its rate fell
-- from minute 31. This table holds the answer instead, one row per number, screen and finding:
-- a read is one range of its primary key.
--
-- Kept by triggers on events, so that no way of writing an event (ingest, the screen sweep, a
-- re-hash while the hash key rotates) can leave a finding out: every event written with a
-- number, a screen and findings raises its rows to itself if it is newer (occurred_at, then
-- event_id byte by byte, as the walk picks). So a row is never older than any event that now
-- holds its finding. It can be newer: its event may since have been deleted, lost its number
-- (retention, erasure) or been re-hashed or screened again. A read checks its rows against
-- their events and walks the index as before for a number with a row that no longer holds
-- (SURVEYD_NEWEST_FINDINGS): such a row must not hide an older event. Rows go with the numbers'
-- hashes (retention's phone_hash_days, erasure).
CREATE TABLE number_findings (
  phone_hash text NOT NULL,
  screened_with text NOT NULL,
  finding text NOT NULL,
  occurred_at timestamptz NOT NULL,
  event_id text NOT NULL,
  PRIMARY KEY (phone_hash, screened_with, finding)
);
CREATE INDEX number_findings_occurred_at ON number_findings (occurred_at);

-- The events just written (the transition table `written`) raise their numbers' rows. One row
-- per key per statement (ON CONFLICT may touch a row once), in key order, so that two
-- statements meet their rows' locks in the same order.
CREATE FUNCTION surveyd_note_findings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO number_findings AS f (phone_hash, screened_with, finding, occurred_at, event_id)
  SELECT DISTINCT ON (w.phone_hash, w.screened_with, x.finding COLLATE "C")
         w.phone_hash, w.screened_with, x.finding, w.occurred_at, w.event_id
    FROM written w CROSS JOIN LATERAL unnest(w.screen_findings) AS x(finding)
   WHERE w.phone_hash IS NOT NULL AND w.screened_with IS NOT NULL
   ORDER BY w.phone_hash, w.screened_with, x.finding COLLATE "C", w.occurred_at DESC,
            w.event_id COLLATE "C" DESC
  ON CONFLICT (phone_hash, screened_with, finding) DO UPDATE
     SET occurred_at = excluded.occurred_at, event_id = excluded.event_id
   WHERE (excluded.occurred_at, excluded.event_id COLLATE "C") > (f.occurred_at, f.event_id);
  RETURN NULL;
END
$$;

CREATE TRIGGER events_note_findings_inserted AFTER INSERT ON events
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION surveyd_note_findings();
CREATE TRIGGER events_note_findings_updated AFTER UPDATE ON events
  REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION surveyd_note_findings();

-- The events stored so far, under the triggers' lock on events (taken by CREATE TRIGGER and
-- held to the end of the migration's transaction), so that none is written in between.
INSERT INTO number_findings (phone_hash, screened_with, finding, occurred_at, event_id)
SELECT DISTINCT ON (e.phone_hash, e.screened_with, x.finding COLLATE "C")
       e.phone_hash, e.screened_with, x.finding, e.occurred_at, e.event_id
  FROM events e CROSS JOIN LATERAL unnest(e.screen_findings) AS x(finding)
 WHERE e.phone_hash IS NOT NULL AND e.screened_with IS NOT NULL
 ORDER BY e.phone_hash, e.screened_with, x.finding COLLATE "C", e.occurred_at DESC,
          e.event_id COLLATE "C" DESC;
