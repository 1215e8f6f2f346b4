-- An incident's findings are filed under every number the incident has (a review texted the
-- victim of a domestic abuse incident: the DOMESTIC flag came on the closure, which named no
-- caller and so was filed under the informant's number alone, or on the officer's departure,
-- which named the neighbour).
--
-- A person named on any event of an incident is in it: a flag on one of its events concerns
-- every number it names, whichever event carried the number. A caller's own findings (under age,
-- consent declined, vulnerable: rules::IsCallersOwn) are not filed so: they concern that caller
-- and the incident, not a stranger's other contacts (forty callers to a fight in the street lost
-- a month of surveys to one of them aged fifteen). So each number's newest event for a
-- finding (number_findings, migration 0023) is now the newest among its own events and those of
-- every incident it appears in. The triggers keep that for every way an event is written, in
-- both orders: a flagged event written raises the rows of every other number its incident
-- already has, and an event written with a number raises that number's rows to its incident's
-- findings. The first reads the incident's events by index (a handful), for flagged events only;
-- the second finds the incident's flagged events through an index of those alone, so an event of
-- an incident without findings (nearly all) costs one empty descent. Only what was written is
-- filed: a first version filed every flagged event of each incident written to under every
-- number of it, again at each write, and halved the feed's rate in the benchmark.
--
-- A row filed so names an event of another number (or none): the read-back checks that the
-- number still appears in that event's incident (SURVEYD_NUMBER_NEWEST_EVENTS), as it checks
-- that an own row's event still holds the number.

CREATE INDEX events_incident_findings ON events (incident_id)
  WHERE incident_id IS NOT NULL AND screen_findings IS NOT NULL;

-- Of an event's findings, those about its incident: what reaches the other numbers in it. Its
-- caller's own (rules::IsCallersOwn names the same three) stay with its own number.
CREATE FUNCTION surveyd_incident_findings(findings text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ARRAY(SELECT f FROM unnest(findings) AS f
                WHERE f NOT IN ('under_minimum_age', 'consent_declined', 'vulnerable'))
$$;

CREATE OR REPLACE FUNCTION surveyd_note_findings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO number_findings AS f (phone_hash, screened_with, finding, occurred_at, event_id)
  SELECT DISTINCT ON (r.phone_hash, r.screened_with, r.finding COLLATE "C")
         r.phone_hash, r.screened_with, r.finding, r.occurred_at, r.event_id
    FROM (
      -- The events written, under their own numbers.
      SELECT w.phone_hash, w.screened_with, x.finding, w.occurred_at, w.event_id
        FROM written w CROSS JOIN LATERAL unnest(w.screen_findings) AS x(finding)
       WHERE w.phone_hash IS NOT NULL AND w.screened_with IS NOT NULL
      UNION ALL
      -- A flagged event written, under the other numbers its incident has.
      SELECT n.phone_hash, w.screened_with, x.finding, w.occurred_at, w.event_id
        FROM written w
        JOIN LATERAL (SELECT DISTINCT e.phone_hash FROM events e
                       WHERE e.incident_id = w.incident_id AND e.phone_hash IS NOT NULL) AS n
          ON n.phone_hash IS DISTINCT FROM w.phone_hash
        CROSS JOIN LATERAL unnest(surveyd_incident_findings(w.screen_findings)) AS x(finding)
       WHERE w.incident_id IS NOT NULL AND w.screen_findings IS NOT NULL
         AND w.screened_with IS NOT NULL
      UNION ALL
      -- An event written with a number, under it: its incident's flagged events of other
      -- numbers or none (found by the index of flagged events alone; for nearly every incident,
      -- none).
      SELECT w.phone_hash, y.screened_with, x.finding, y.occurred_at, y.event_id
        FROM written w
        JOIN events y ON y.incident_id = w.incident_id AND y.screen_findings IS NOT NULL
                     AND y.phone_hash IS DISTINCT FROM w.phone_hash
        CROSS JOIN LATERAL unnest(surveyd_incident_findings(y.screen_findings)) AS x(finding)
       WHERE w.incident_id IS NOT NULL AND w.phone_hash IS NOT NULL
         AND y.screened_with IS NOT NULL) AS r
   ORDER BY r.phone_hash, r.screened_with, r.finding COLLATE "C", r.occurred_at DESC,
            r.event_id COLLATE "C" DESC
  ON CONFLICT (phone_hash, screened_with, finding) DO UPDATE
     SET occurred_at = excluded.occurred_at, event_id = excluded.event_id
   WHERE (excluded.occurred_at, excluded.event_id COLLATE "C") > (f.occurred_at, f.event_id);
  RETURN NULL;
END
$$;

-- The incidents stored so far, within the longest look-back the rules can have (90 days, as
-- migration 0033): their flagged events under every other number of theirs. Under a lock on
-- events, so that none is written in between.
LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO number_findings AS f (phone_hash, screened_with, finding, occurred_at, event_id)
SELECT DISTINCT ON (n.phone_hash, y.screened_with, x.finding COLLATE "C")
       n.phone_hash, y.screened_with, x.finding, y.occurred_at, y.event_id
  FROM events y
  JOIN LATERAL (SELECT DISTINCT e.phone_hash FROM events e
                 WHERE e.incident_id = y.incident_id AND e.phone_hash IS NOT NULL) AS n
    ON n.phone_hash IS DISTINCT FROM y.phone_hash
  CROSS JOIN LATERAL unnest(surveyd_incident_findings(y.screen_findings)) AS x(finding)
 WHERE y.incident_id IS NOT NULL AND y.screen_findings IS NOT NULL
   AND y.screened_with IS NOT NULL AND y.occurred_at >= now() - interval '90 days'
 ORDER BY n.phone_hash, y.screened_with, x.finding COLLATE "C", y.occurred_at DESC,
          y.event_id COLLATE "C" DESC
ON CONFLICT (phone_hash, screened_with, finding) DO UPDATE
   SET occurred_at = excluded.occurred_at, event_id = excluded.event_id
 WHERE (excluded.occurred_at, excluded.event_id COLLATE "C") > (f.occurred_at, f.event_id);
