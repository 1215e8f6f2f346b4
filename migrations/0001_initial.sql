-- surveyd schema, version 1. Every timestamp is timestamptz (UTC in, UTC out).
-- Personal data lives in two places only: surveys.phone_e164 (the number, reached through the
-- store) and responses.comment; raw events keep the feed's text as delivered.

-- Microseconds since the epoch: how the store reads timestamps back without rounding.
CREATE FUNCTION surveyd_epoch_us(t timestamptz) RETURNS bigint
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (extract(epoch FROM t) * 1000000)::bigint $$;

-- Every event accepted from a feed, once per event_id, with the decision made for it.
CREATE TABLE events (
  event_id        text PRIMARY KEY,
  received_at     timestamptz NOT NULL,
  source          text NOT NULL,
  seq             bigint,
  type            text NOT NULL,
  occurred_at     timestamptz NOT NULL,
  decision        text CHECK (decision IN ('survey', 'excluded', 'ignored')),
  decision_reason text,            -- the deciding rule: "exclusion:domestic", "frequency_cap"...
  decision_group  text,
  decision_trace  jsonb,           -- every rule that matched, in order
  duplicates      integer NOT NULL DEFAULT 0,  -- later deliveries of the same event_id
  raw             text NOT NULL
);
CREATE INDEX events_occurred_at ON events (occurred_at);

-- Lines and objects that could not be read as events: kept with the reason, never decided.
-- event_id is what could be read of it, if anything; it does not claim the id, so a corrupt
-- delivery never blocks a later good one.
CREATE TABLE rejected_events (
  id            bigserial PRIMARY KEY,
  event_id      text,
  received_at   timestamptz NOT NULL,
  source        text NOT NULL,
  seq           bigint,
  reject_reason text NOT NULL,
  raw           text NOT NULL
);
CREATE INDEX rejected_events_received_at ON rejected_events (received_at);

-- One survey per event decided "survey", with the context analysts group by, copied from the
-- event so that analysis never has to read raw events.
CREATE TABLE surveys (
  id                bigserial PRIMARY KEY,
  event_id          text NOT NULL UNIQUE REFERENCES events (event_id),
  group_id          text NOT NULL,
  language          text NOT NULL,
  phone_e164        text NOT NULL,   -- personal data: this is the one place it is stored
  phone_hash        text NOT NULL,   -- HMAC-SHA256(phone_hash_key, e164), for lookups
  event_type        text NOT NULL,
  channel           text,
  incident_type_code text,
  incident_category text,
  incident_grade    text,
  npu               text,
  beat              text,
  postcode_district text,
  handler_id        text,
  handler_team      text,
  officer_id        text,
  department        text,
  caller_role       text,
  caller_age_band   text,
  caller_gender     text,
  caller_ethnicity  text,
  contact_at        timestamptz NOT NULL,  -- occurred_at of the event
  created_at        timestamptz NOT NULL,
  send_at           timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL,  -- the text is not sent after this
  closes_at         timestamptz NOT NULL,  -- the survey takes answers until this
  sms_template      text NOT NULL,         -- every placeholder but {link} filled in
  token_nonce       text NOT NULL,
  token_hash        text UNIQUE,           -- SHA-256 of the link token, set at the first send
  opened_at         timestamptz,
  responded_at      timestamptz
);
CREATE INDEX surveys_phone_hash ON surveys (phone_hash, contact_at);
CREATE INDEX surveys_contact_at ON surveys (contact_at);

-- The SMS outbox: one message per survey, claimed by senders with FOR UPDATE SKIP LOCKED.
CREATE TABLE outbox (
  id                 bigserial PRIMARY KEY,
  survey_id          bigint NOT NULL UNIQUE REFERENCES surveys (id),
  client_ref         text NOT NULL UNIQUE,
  state              text NOT NULL CHECK (state IN ('pending', 'sending', 'accepted', 'sent',
                       'delivered', 'failed', 'expired', 'in_doubt', 'cancelled')),
  attempts           integer NOT NULL DEFAULT 0,
  next_attempt_at    timestamptz NOT NULL,
  claimed_by         text,
  lease_until        timestamptz,
  gateway            text,
  gateway_message_id text,
  last_error         text,
  updated_at         timestamptz NOT NULL
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_leased ON outbox (lease_until) WHERE state = 'sending';
CREATE INDEX outbox_gateway_message_id ON outbox (gateway_message_id)
  WHERE gateway_message_id IS NOT NULL;

-- Delivery states only move forward; failed, expired and cancelled are final, and so is
-- delivered (a late "failed" never undoes it).
CREATE FUNCTION outbox_state_rank(state text) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE state
      WHEN 'pending' THEN 0 WHEN 'sending' THEN 1 WHEN 'in_doubt' THEN 1
      WHEN 'accepted' THEN 2 WHEN 'sent' THEN 3 WHEN 'delivered' THEN 4
      ELSE 5 END
  $$;
CREATE FUNCTION outbox_state_final(state text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT state IN ('delivered', 'failed', 'expired', 'cancelled')
  $$;

-- Every attempt to hand a message to a gateway.
CREATE TABLE send_attempts (
  id                 bigserial PRIMARY KEY,
  outbox_id          bigint NOT NULL REFERENCES outbox (id),
  attempt            integer NOT NULL,
  at                 timestamptz NOT NULL,
  gateway            text NOT NULL,
  gateway_message_id text,
  http_status        integer,
  result             text NOT NULL CHECK (result IN ('accepted', 'retry', 'failed', 'in_doubt')),
  error              text
);
CREATE INDEX send_attempts_outbox ON send_attempts (outbox_id);

-- Every delivery report received, matched to its message when possible. A report that arrives
-- before the send's own answer (its message id still unknown) is kept unmatched and applied
-- when the answer is recorded.
CREATE TABLE delivery_reports (
  id                 bigserial PRIMARY KEY,
  outbox_id          bigint REFERENCES outbox (id),
  gateway            text NOT NULL,
  gateway_message_id text,
  client_ref         text,
  status             text NOT NULL,
  error_code         text,
  at                 timestamptz NOT NULL,
  received_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_reports_unmatched ON delivery_reports (gateway_message_id)
  WHERE outbox_id IS NULL;

CREATE TABLE opt_outs (
  phone_hash text PRIMARY KEY,
  source     text NOT NULL,
  at         timestamptz NOT NULL
);

CREATE TABLE responses (
  survey_id    bigint PRIMARY KEY REFERENCES surveys (id),
  q1           smallint CHECK (q1 BETWEEN 0 AND 10),
  q2           smallint CHECK (q2 BETWEEN 0 AND 10),
  q3           smallint CHECK (q3 BETWEEN 0 AND 10),
  q4           smallint CHECK (q4 BETWEEN 0 AND 10),
  q5           smallint CHECK (q5 BETWEEN 0 AND 10),
  comment      text NOT NULL DEFAULT '' CHECK (char_length(comment) <= 2000),
  language     text NOT NULL,
  submitted_at timestamptz NOT NULL
);

-- Where each feed's stream has been durably stored up to.
CREATE TABLE feed_cursors (
  feed       text PRIMARY KEY,
  seq        bigint NOT NULL,
  updated_at timestamptz NOT NULL
);
