-- What happens to a text after it is sent, replies, two-way surveys by text, and flow control.

-- Outbox messages are of three kinds:
--   survey        the survey's own text (its link, or in two-way mode its first question): one
--                 per survey, as before; the funnel counts these;
--   question      a later text of a two-way conversation (the next question, a question asked
--                 again, the closing thanks): a reply to the citizen's own text;
--   confirmation  the one confirmation of an opt-out by SMS, sent to a number that is opted out
--                 by design.
-- `body` is the whole text of the kinds other than survey (whose text is surveys.sms_template
-- with its link); `expires_at` their own deadline (a survey text's is surveys.expires_at).
-- `begun_at` is when its first request was begun (a two-way conversation runs from then).
ALTER TABLE outbox
  ADD COLUMN kind       text NOT NULL DEFAULT 'survey'
                        CHECK (kind IN ('survey', 'question', 'confirmation')),
  ADD COLUMN body       text,
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN begun_at   timestamptz;
UPDATE outbox o SET begun_at = (SELECT min(a.at) FROM send_attempts a WHERE a.outbox_id = o.id);
ALTER TABLE outbox DROP CONSTRAINT outbox_survey_id_key;
CREATE UNIQUE INDEX outbox_survey_text ON outbox (survey_id) WHERE kind = 'survey';
CREATE INDEX outbox_survey ON outbox (survey_id);

-- Delivery states as the service names them, whatever the gateway's words:
--   accepted, sent, delivered (final), and three final failures:
--   failed            the gateway or the network refused the text;
--   undeliverable     the network could not reach the handset (absent, unknown number);
--   delivery_expired  the network gave up before the handset could be reached (its validity
--                     period ran out). Not `expired`, which stays the outbox's own: never sent
--                     before the survey's window closed.
ALTER TABLE outbox DROP CONSTRAINT outbox_state_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_state_check CHECK (state IN ('pending', 'claimed',
  'sending', 'accepted', 'sent', 'delivered', 'failed', 'undeliverable', 'delivery_expired',
  'expired', 'in_doubt', 'cancelled'));
CREATE OR REPLACE FUNCTION outbox_state_final(state text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT state IN ('delivered', 'failed', 'undeliverable', 'delivery_expired', 'expired',
                     'cancelled')
  $$;

-- Message ids are scoped per gateway: (gateway, gateway_message_id) names a message.
DROP INDEX outbox_gateway_message_id;
CREATE INDEX outbox_gateway_message_id ON outbox (gateway, gateway_message_id)
  WHERE gateway_message_id IS NOT NULL;
DROP INDEX delivery_reports_unmatched;
CREATE INDEX delivery_reports_unmatched ON delivery_reports (gateway, gateway_message_id)
  WHERE outbox_id IS NULL;
-- delivery_reports.status holds the service's state name (core DeliveryStateName).

-- The survey is asked by text ('two_way'), one question at a time, or by its link ('link').
ALTER TABLE surveys ADD COLUMN mode text NOT NULL DEFAULT 'link'
  CHECK (mode IN ('link', 'two_way'));

-- A two-way survey's conversation, opened when its first text is begun. `question` is the one
-- awaiting an answer (1-5); `asked_again` once it was asked again after a reply that could not be
-- read. Answers go straight into responses, as the page's do.
CREATE TABLE conversations (
  survey_id   bigint PRIMARY KEY REFERENCES surveys (id),
  phone_hash  text NOT NULL,
  language    text NOT NULL,
  state       text NOT NULL CHECK (state IN ('open', 'finished', 'expired', 'opted_out')),
  question    smallint NOT NULL CHECK (question BETWEEN 1 AND 5),
  asked_again boolean NOT NULL DEFAULT false,
  started_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);
CREATE INDEX conversations_open ON conversations (phone_hash, started_at) WHERE state = 'open';

-- Every text a citizen sent us, through any gateway, once per gateway message id. Personal data:
-- the body is kept as responses.comment is; the number only as its keyed hash. `disposition`
-- says what it did: opt_out, answer (to a two-way question), asked_again, comment (kept as free
-- text after asking again), reply (nothing was waiting for it), or unknown_sender (no number).
CREATE TABLE inbound_messages (
  id                 bigserial PRIMARY KEY,
  gateway            text NOT NULL,
  gateway_message_id text,
  phone_hash         text,
  body               text NOT NULL,
  received_at        timestamptz NOT NULL,
  stored_at          timestamptz NOT NULL,
  survey_id          bigint REFERENCES surveys (id),
  question           smallint,
  disposition        text NOT NULL CHECK (disposition IN ('opt_out', 'answer', 'asked_again',
                       'comment', 'reply', 'unknown_sender'))
);
CREATE UNIQUE INDEX inbound_messages_gateway_id ON inbound_messages (gateway, gateway_message_id)
  WHERE gateway_message_id IS NOT NULL;
CREATE INDEX inbound_messages_received_at ON inbound_messages (received_at);
CREATE INDEX inbound_messages_phone_hash ON inbound_messages (phone_hash);

-- An opt-out by SMS is confirmed once per number, whatever opted it out first.
ALTER TABLE opt_outs ADD COLUMN confirmed_at timestamptz;

-- Flow control: the sends each gateway may make, counted in short buckets (bucket = a time slice
-- since the epoch, of the length the dispatcher uses) across every worker of every instance.
-- surveyd_take_send_slots grants at most `cap` sends over the last `span` buckets, so that no
-- one-second window ever holds more than the gateway's rate; takers of one gateway queue on an
-- advisory lock of their own key space (two int4 keys), apart from ingest's bigint keys.
CREATE TABLE gateway_send_slots (
  gateway text NOT NULL,
  bucket  bigint NOT NULL,
  used    integer NOT NULL CHECK (used >= 0),
  PRIMARY KEY (gateway, bucket)
);

CREATE FUNCTION surveyd_take_send_slots(g text, b bigint, wanted integer, cap integer,
                                        span integer) RETURNS integer
  LANGUAGE plpgsql AS $$
DECLARE
  recent integer;
  granted integer;
BEGIN
  PERFORM pg_advisory_xact_lock(1919251317, hashtext(g));
  DELETE FROM gateway_send_slots WHERE gateway = g AND bucket <= b - 4 * span;
  -- Buckets ahead of ours (an instance whose clock runs a little fast) count too.
  SELECT COALESCE(sum(used), 0) INTO recent FROM gateway_send_slots
    WHERE gateway = g AND bucket > b - span;
  granted := GREATEST(0, LEAST(wanted, cap - recent));
  IF granted > 0 THEN
    INSERT INTO gateway_send_slots AS s (gateway, bucket, used) VALUES (g, b, granted)
      ON CONFLICT (gateway, bucket) DO UPDATE SET used = s.used + granted;
  END IF;
  RETURN granted;
END
$$;

-- A new message wakes the dispatchers of every instance (LISTEN surveyd_outbox), so a text due
-- now never waits for a poll.
CREATE FUNCTION surveyd_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('surveyd_outbox', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION surveyd_outbox_notify();
