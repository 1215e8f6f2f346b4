-- A rejected line holds the texts of the incident and the number it names (fail closed).
--
-- A line the service cannot read as an event (an incident.closed whose occurred_at is not a time,
-- a qualifier that is not a string) was stored as rejected and changed nothing else, so a survey
-- already queued for its incident went out after its delay, although the line may be the one
-- that said the incident was domestic abuse. Now, when the incident's id or the caller's number
-- can still be read from it, the line keeps them (the number as its keyed hash, as events do),
-- its incident's and number's queued texts are cancelled, and a later event of either is
-- excluded as insufficient data, until a good delivery of the same event_id replaces the line.
ALTER TABLE rejected_events ADD COLUMN incident_id text, ADD COLUMN phone_hash text;

CREATE INDEX rejected_events_incident ON rejected_events (incident_id)
  WHERE incident_id IS NOT NULL;
CREATE INDEX rejected_events_phone ON rejected_events (phone_hash, received_at)
  WHERE phone_hash IS NOT NULL;
