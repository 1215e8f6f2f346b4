-- An event that came without a number (a closure naming no caller, with the DOMESTIC flag) is
-- filed under its incident's number, so that the flag reaches the number's other contacts. Up
-- to now only when the number was stored before it; ingest now also files such events back when
-- a number comes for their incident later (RelatedPool::FileBack). This files back those stored
-- before, under the number of the incident's first event that has one, within the longest
-- look-back the rules can have (kMaxNumberLookback, 90 days): older events are never read by
-- number, and retention drops their hashes. number_findings follows by its trigger.
UPDATE events e SET phone_hash = f.phone_hash
  FROM (SELECT DISTINCT ON (incident_id) incident_id, phone_hash FROM events
         WHERE incident_id IS NOT NULL AND phone_hash IS NOT NULL
           AND occurred_at >= now() - interval '90 days'
         ORDER BY incident_id, occurred_at, event_id COLLATE "C") AS f
 WHERE e.incident_id = f.incident_id AND e.phone_hash IS NULL AND e.facts IS NOT NULL
   AND e.occurred_at >= now() - interval '90 days';
