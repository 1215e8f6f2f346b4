SET client_min_messages = warning;
-- Tables shaped like events and outbox (migrations/0001_initial.sql), without the foreign key
-- to surveys, for the pgbench baseline of bench/ingest.sh.
DROP TABLE IF EXISTS bench_outbox, bench_events;
DROP SEQUENCE IF EXISTS bench_event_seq;
CREATE SEQUENCE bench_event_seq;
CREATE TABLE bench_events (
  event_id        text PRIMARY KEY,
  received_at     timestamptz NOT NULL,
  source          text NOT NULL,
  seq             bigint,
  type            text NOT NULL,
  occurred_at     timestamptz NOT NULL,
  decision        text,
  decision_reason text,
  decision_group  text,
  decision_trace  jsonb,
  duplicates      integer NOT NULL DEFAULT 0,
  raw             text NOT NULL
);
CREATE INDEX bench_events_occurred_at ON bench_events (occurred_at);
CREATE TABLE bench_outbox (
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
CREATE INDEX bench_outbox_due ON bench_outbox (next_attempt_at) WHERE state = 'pending';
