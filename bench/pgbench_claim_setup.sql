SET client_min_messages = warning;
-- A queue table shaped like outbox (migrations/0001_initial.sql), filled with :rows due rows, for
-- the SKIP LOCKED baseline of bench/dispatch.sh (run with psql -v rows=N).
DROP TABLE IF EXISTS bench_queue;
CREATE TABLE bench_queue (
  id                 bigserial PRIMARY KEY,
  survey_id          bigint NOT NULL UNIQUE,
  client_ref         text NOT NULL UNIQUE,
  state              text NOT NULL,
  attempts           integer NOT NULL DEFAULT 0,
  next_attempt_at    timestamptz NOT NULL,
  claimed_by         text,
  lease_until        timestamptz,
  gateway            text,
  gateway_message_id text,
  last_error         text,
  updated_at         timestamptz NOT NULL
);
INSERT INTO bench_queue (survey_id, client_ref, state, next_attempt_at, updated_at)
  SELECT i, 'svy-' || i, 'pending', now() - interval '1 minute', now()
  FROM generate_series(1, :rows) AS i;
CREATE INDEX bench_queue_due ON bench_queue (next_attempt_at) WHERE state = 'pending';
CREATE INDEX bench_queue_claimed ON bench_queue (claimed_by) WHERE state = 'claimed';
VACUUM ANALYZE bench_queue;
