-- Fail closed: the whole incident and the caller's number decide, up to the moment of sending,
-- and at most one request per message is ever in flight.

-- What the rules read of each event, normalised and without the caller's number (core's
-- EventToJson): later events of the same incident or number, and the dispatcher just before each
-- send, decide queued texts again from it. phone_hash links events of one number without the
-- number itself.
ALTER TABLE events
  ADD COLUMN incident_id text,
  ADD COLUMN phone_hash  text,
  ADD COLUMN facts       jsonb;
-- Events stored before this migration: their raw text, less the number, is the same contract form.
UPDATE events SET facts = raw::jsonb #- '{caller,phone}' WHERE facts IS NULL;
UPDATE events SET incident_id = NULLIF(facts #>> '{incident,id}', '') WHERE incident_id IS NULL;
CREATE INDEX events_incident ON events (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX events_phone_hash ON events (phone_hash, occurred_at) WHERE phone_hash IS NOT NULL;

-- Surveys keep their incident, so that a later event of it finds the texts still queued.
ALTER TABLE surveys ADD COLUMN incident_id text;
UPDATE surveys s SET incident_id = e.incident_id FROM events e WHERE e.event_id = s.event_id;
CREATE INDEX surveys_incident ON surveys (incident_id) WHERE incident_id IS NOT NULL;

-- Outbox states, in order:
--   pending   waiting for its time;
--   claimed   leased by one dispatcher worker (claim_token fences it), not yet sent; a claim
--             that runs out is simply claimed again, since nothing went out;
--   sending   the worker still held the claim when it began this one request; only that worker
--             (same claim_token) records the answer; a crash leaves it for recovery: resent with
--             the same client_ref through an idempotent gateway, held in doubt otherwise;
--   accepted, sent, delivered, failed, expired, in_doubt;
--   cancelled a later event, a re-decision before sending, or an opt-out said no (cancel_reason
--             says which rule, cancelled_by which event or process).
ALTER TABLE outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_state_check CHECK (state IN ('pending', 'claimed',
  'sending', 'accepted', 'sent', 'delivered', 'failed', 'expired', 'in_doubt', 'cancelled'));
-- maybe_sent: an earlier request may have reached the gateway (an in-doubt answer, or a sender
-- that stopped mid-request); such a message, when ruled out before a retry, is held in doubt
-- for its delivery reports to settle rather than called cancelled.
ALTER TABLE outbox
  ADD COLUMN claim_token   bigint,
  ADD COLUMN cancel_reason text,
  ADD COLUMN cancelled_by  text,
  ADD COLUMN maybe_sent    boolean NOT NULL DEFAULT false;
UPDATE outbox SET cancel_reason = 'opted_out', cancelled_by = 'opt_out'
  WHERE state = 'cancelled' AND cancel_reason IS NULL;
DROP INDEX outbox_leased;
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE state IN ('claimed', 'sending');

CREATE OR REPLACE FUNCTION outbox_state_rank(state text) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE state
      WHEN 'pending' THEN 0 WHEN 'claimed' THEN 1 WHEN 'sending' THEN 1 WHEN 'in_doubt' THEN 1
      WHEN 'accepted' THEN 2 WHEN 'sent' THEN 3 WHEN 'delivered' THEN 4
      ELSE 5 END
  $$;

-- A new token for every claim: what fences a worker whose claim ran out.
CREATE SEQUENCE outbox_claim_token;
