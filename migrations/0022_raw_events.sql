-- Raw events in a table of their own (issue 11: the hour's soak at 1,000 events/s).
--
-- An event's raw line, sealed, was a column of `events`: about 1.2 kB of each 2.2 kB row, kept
-- for retention.raw_days while the rest of the row (its facts, decision and links) is kept far
-- longer. Retention took it out with an UPDATE, and an update of an event row writes the whole
-- row again with an entry in each of its ten indexes: in the soak, where retention removes as
-- many raw lines a minute as arrive (as it does in production once the first month is past),
-- that update cost 230 us a line and was the second largest statement, more than the events'
-- own insert. Every pass over the old rows also left them dead in the busiest table, for vacuum.
--
-- Now the sealed line is a row of `raw_events`, inserted by the same statement as its event
-- (src/store/pg_ingest.cpp) and deleted when its time is up: a narrow row, three indexes, and
-- nothing of `events` rewritten (15 us a line in the same soak). The event rows are narrower
-- (the soak's events heap 31% smaller), and with none of them rewritten their pages stay
-- all-visible, which the index-only walks of ingest's read-back of related events rely on.
--
-- The re-key walk (0021) reads this table by the key each line is sealed under, as it read
-- `events`; an erasure deletes the number's lines with its events' other personal data.
CREATE TABLE raw_events (
  event_id    text PRIMARY KEY,  -- events.event_id: written with it, in the same statement
  received_at timestamptz NOT NULL,
  raw         text NOT NULL      -- sealed (events.raw, as the vault names its purpose)
);

-- Writes to events wait until this commits (reads go on): an event stored meanwhile by an
-- instance of an older version would otherwise keep its line in the column dropped below, and
-- lose it. (Once this is committed, such an instance's ingest fails on the missing column and
-- acknowledges nothing; docs/operations.md says to stop older versions first.)
LOCK TABLE events IN SHARE MODE;

INSERT INTO raw_events (event_id, received_at, raw)
SELECT event_id, received_at, raw FROM events WHERE raw IS NOT NULL;

CREATE INDEX raw_events_received ON raw_events (received_at);
CREATE INDEX raw_events_key ON raw_events (split_part(raw, ':', 2), event_id);

-- Its indexes (events_raw_held, events_raw_key) go with it.
ALTER TABLE events DROP COLUMN raw;
