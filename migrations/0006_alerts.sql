-- Closing the loop (issue 10): alerts raised by answers, their notices (webhook, e-mail) with
-- every attempt, who did what to each alert, and the weekly recognition digests.

-- One alert per survey and kind, written in the transaction that stores the answer: an answer
-- stored twice, or by two instances racing, raises it once. `matched` holds what matched in the
-- lexicon's own words ("fear:scared") or the scores ("q1=0"), never the citizen's text; the
-- context is read from the survey when needed, never copied (the number least of all).
CREATE TABLE alerts (
  id             bigserial PRIMARY KEY,
  survey_id      bigint NOT NULL REFERENCES surveys (id),
  kind           text NOT NULL CHECK (kind IN ('safeguarding', 'complaint', 'low_scores')),
  severity       text NOT NULL CHECK (severity IN ('urgent', 'high', 'normal')),
  rules          jsonb NOT NULL,  -- ids of the alert rules that fired
  matched        jsonb NOT NULL,
  created_at     timestamptz NOT NULL,
  status         text NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'acknowledged', 'resolved')),
  status_at      timestamptz,
  status_by      text,           -- the name of the token's holder
  status_note    text,
  -- Notices: round 0 is the first, 1... are re-notifications of an alert nobody acknowledged
  -- (also to the escalation address). The notifier creates round `rounds` at next_round_at;
  -- NULL: no more rounds.
  rounds         integer NOT NULL DEFAULT 0,
  next_round_at  timestamptz,
  UNIQUE (survey_id, kind)
);
CREATE INDEX alerts_list ON alerts (status, id);
CREATE INDEX alerts_next_round ON alerts (next_round_at) WHERE next_round_at IS NOT NULL;

-- Everything done to an alert, and by whom: created, acknowledged, resolved, and each time the
-- number behind it was revealed (with the reason given). Written in the same transaction as
-- the change itself, so an unrecorded reveal cannot happen.
CREATE TABLE alert_events (
  id         bigserial PRIMARY KEY,
  alert_id   bigint NOT NULL REFERENCES alerts (id),
  at         timestamptz NOT NULL,
  action     text NOT NULL CHECK (action IN ('created', 'acknowledged', 'resolved', 'revealed')),
  actor_id   text,  -- the API token's id (never the token)
  actor_name text,
  actor_role text,
  note       text
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, id);

-- The weekly recognition digest of a team, once per team and week whatever the number of
-- instances (the unique key). Counts only: no comment, no number.
CREATE TABLE recognition_digests (
  id           bigserial PRIMARY KEY,
  team         text NOT NULL,
  period_start timestamptz NOT NULL,
  period_end   timestamptz NOT NULL,
  recipient    text NOT NULL,
  subject      text NOT NULL,
  body         text NOT NULL,
  created_at   timestamptz NOT NULL,
  UNIQUE (team, period_start)
);

-- One message to one channel: an alert's notice of one round, or a digest. Claimed by notifiers
-- with FOR UPDATE SKIP LOCKED under a lease fenced by claim_token; sent at least once (a
-- notifier that dies mid-send leaves it to be sent again; the webhook-id stays the same so the
-- receiver can tell).
CREATE TABLE alert_notices (
  id              bigserial PRIMARY KEY,
  alert_id        bigint REFERENCES alerts (id),
  digest_id       bigint REFERENCES recognition_digests (id),
  channel         text NOT NULL CHECK (channel IN ('webhook', 'email')),
  round           integer NOT NULL,
  recipient       text NOT NULL DEFAULT '',  -- e-mail address; '' for the webhook
  escalated       boolean NOT NULL DEFAULT false,
  state           text NOT NULL CHECK (state IN ('pending', 'claimed', 'sent', 'failed',
                    'cancelled')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  claimed_by      text,
  claim_token     bigint,
  lease_until     timestamptz,
  last_error      text,
  sent_at         timestamptz,
  updated_at      timestamptz NOT NULL,
  CHECK ((alert_id IS NULL) <> (digest_id IS NULL)),
  UNIQUE (alert_id, channel, round, recipient),
  UNIQUE (digest_id, channel, recipient)
);
CREATE INDEX alert_notices_due ON alert_notices (next_attempt_at) WHERE state = 'pending';
CREATE INDEX alert_notices_leased ON alert_notices (lease_until) WHERE state = 'claimed';
CREATE SEQUENCE alert_notice_claim_token;

-- Every attempt to deliver a notice.
CREATE TABLE alert_notice_attempts (
  id          bigserial PRIMARY KEY,
  notice_id   bigint NOT NULL REFERENCES alert_notices (id),
  attempt     integer NOT NULL,
  at          timestamptz NOT NULL,
  result      text NOT NULL CHECK (result IN ('sent', 'retry', 'failed')),
  http_status integer,  -- webhook: the answer's status; e-mail: the SMTP reply code
  error       text
);
CREATE INDEX alert_notice_attempts_notice ON alert_notice_attempts (notice_id);

-- Recognition reads answers by the person of the contact: 0004's surveys_officer and
-- surveys_operator (handler) indexes serve it.
