-- surveyd schema, analytics (issue 8): API tokens with roles, the audit trail of API calls,
-- rollups maintained by triggers as decisions, deliveries and answers arrive, and comments with
-- contact details masked, searchable with English stemming.
--
-- The rollups are history: rows that retention later deletes from events, surveys or outbox
-- stay counted (they hold no personal data). analytics_rebuild() derives them again from the raw
-- tables, for a new cube or after a repair; in steady state nothing is ever rescanned.

-- API bearer tokens. Only the SHA-256 of a token is kept; the token is shown once, at creation.
CREATE TABLE api_tokens (
  id           text PRIMARY KEY,  -- "tok_" + 16 hex: shown in lists and the audit trail
  name         text NOT NULL,     -- who or what it was issued to
  role         text NOT NULL CHECK (role IN ('analyst', 'supervisor', 'ops', 'admin',
                                             'safeguarding')),
  token_hash   text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL,
  created_by   text NOT NULL,     -- "cli", or the id of the admin token that issued it
  last_used_at timestamptz,       -- to the minute
  revoked_at   timestamptz
);

-- Every call to a role-protected API route, and every refused attempt. Never personal data:
-- the route's pattern rather than its path, the names of the query parameters but not their
-- values (a search could quote a comment), no client address.
CREATE TABLE api_audit (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL,
  token_id    text,               -- null: no valid token
  role        text,
  method      text NOT NULL,
  route       text NOT NULL,
  params      text[] NOT NULL DEFAULT '{}',
  status      integer NOT NULL,
  rows        bigint,             -- rows of data returned, where the answer is a table
  duration_ms real NOT NULL
);
CREATE INDEX api_audit_at ON api_audit (at);

-- Indexes for the raw queries (supervisors' look-ups, the survey timeline) and the sweeper.
CREATE INDEX surveys_officer ON surveys (officer_id, contact_at) WHERE officer_id IS NOT NULL;
CREATE INDEX surveys_operator ON surveys (handler_id, contact_at) WHERE handler_id IS NOT NULL;
CREATE INDEX surveys_closes_at ON surveys (closes_at);
CREATE INDEX delivery_reports_outbox ON delivery_reports (outbox_id) WHERE outbox_id IS NOT NULL;

---------------------------------------------------------------------------------------------------
-- Dimensions. Each is a fixed column or expression; the API maps names to these, never text to SQL.

-- Local days, hours and weekdays are the force's (one zone per database for now; per force when
-- tenancy comes). Changing it means analytics_rebuild().
CREATE FUNCTION analytics_zone() RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT 'Europe/London'::text $$;
CREATE FUNCTION analytics_day(t timestamptz) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (t AT TIME ZONE analytics_zone())::date $$;
CREATE FUNCTION analytics_hour(t timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lpad(extract(hour FROM t AT TIME ZONE analytics_zone())::int::text, 2, '0') $$;
-- Whole days from the contact to the time the text was scheduled: "0".."6", "7+". Fixed when the
-- survey is created, so a survey never moves between cells.
CREATE FUNCTION analytics_days_to_survey(contact_at timestamptz, send_at timestamptz) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN send_at - contact_at >= interval '7 days' THEN '7+'
                ELSE greatest(0, floor(extract(epoch FROM send_at - contact_at) / 86400))::int::text
           END $$;

-- A survey's value of one dimension, by name (the names of GET /api/v1/stats).
CREATE FUNCTION analytics_dim(name text, s surveys) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE name
      WHEN 'incident_type' THEN s.incident_type_code
      WHEN 'category' THEN s.incident_category
      WHEN 'grade' THEN s.incident_grade
      WHEN 'npu' THEN s.npu
      WHEN 'beat' THEN s.beat
      WHEN 'channel' THEN s.channel
      WHEN 'team' THEN s.handler_team
      WHEN 'operator' THEN s.handler_id
      WHEN 'officer' THEN s.officer_id
      WHEN 'department' THEN s.department
      WHEN 'gender' THEN s.caller_gender
      WHEN 'age_band' THEN s.caller_age_band
      WHEN 'ethnicity' THEN s.caller_ethnicity
      WHEN 'language' THEN s.language
      WHEN 'days_to_survey' THEN analytics_days_to_survey(s.contact_at, s.send_at)
      WHEN 'hour' THEN analytics_hour(s.contact_at)
    END $$;

-- A response's answers, one row per question. The one place that knows the five columns: when
-- questions move to rows of their own, only this changes.
CREATE FUNCTION analytics_answers(r responses) RETURNS TABLE (question text, score smallint)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT a.question, a.score FROM (VALUES ('q1', r.q1), ('q2', r.q2), ('q3', r.q3),
                                             ('q4', r.q4), ('q5', r.q5)) AS a (question, score)
    WHERE a.score IS NOT NULL $$;

-- Where a text stands, for the funnel and the response rate. "handed" is whether the gateway
-- took it (it has a gateway message id): a failure after that is a failed delivery, before it a
-- failed send. States this does not know (added later) count as waiting until they are mapped.
CREATE FUNCTION analytics_message_bucket(state text, handed boolean) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
      WHEN state IS NULL THEN NULL
      WHEN state IN ('accepted', 'sent') THEN 'unreported'
      WHEN state = 'delivered' THEN 'delivered'
      WHEN state IN ('failed', 'undeliverable', 'delivery_expired', 'rejected') THEN
        CASE WHEN handed THEN 'failed_sent' ELSE 'failed_unsent' END
      WHEN state = 'expired' THEN CASE WHEN handed THEN 'failed_sent' ELSE 'expired' END
      WHEN state = 'cancelled' THEN 'cancelled'
      ELSE 'waiting'
    END $$;

-- Only survey texts (outbox.kind, from 0003) count: two-way questions and opt-out confirmations
-- are not surveys.

-- Why a text was cancelled (outbox.cancel_reason, from 0002).
CREATE FUNCTION analytics_cancel_reason(o outbox) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT COALESCE(o.cancel_reason, 'unspecified') $$;

---------------------------------------------------------------------------------------------------
-- Rollups.

-- Cubes: which dimensions each set of cells is broken down by (at most three, d1..d3 in this
-- order). Cube 0 is the totals per group and day: headline tiles, trends, the funnel. A query
-- is answered from the smallest cube that holds every dimension it filters or groups by, and
-- from the raw tables when none does. Adding a cube: insert it, then analytics_rebuild().
CREATE TABLE analytics_cubes (
  id   smallint PRIMARY KEY,
  dims text[] NOT NULL CHECK (cardinality(dims) <= 3)
);
INSERT INTO analytics_cubes (id, dims) VALUES
  (0, '{}'),
  (1, '{channel,language,days_to_survey}'),
  (2, '{hour,channel}'),
  (3, '{category,grade}'),
  (4, '{incident_type,category,grade}'),
  (5, '{npu,beat}'),
  (6, '{operator,team}'),
  (7, '{officer,department}'),
  (8, '{gender,age_band,ethnicity}');

-- Per cube, local day of contact and survey group: what happened to the surveys of that cell.
-- Keys compare bytewise (COLLATE "C"): they are identifiers, and sorting and indexing them is
-- several times cheaper than by a language's rules.
CREATE TABLE analytics_cells (
  cube              smallint NOT NULL,
  d1                text COLLATE "C",
  d2                text COLLATE "C",
  d3                text COLLATE "C",
  group_id          text COLLATE "C" NOT NULL,
  day               date NOT NULL,
  surveys           bigint NOT NULL DEFAULT 0,
  opened            bigint NOT NULL DEFAULT 0,
  answered          bigint NOT NULL DEFAULT 0,
  closed_unanswered bigint NOT NULL DEFAULT 0,  -- texted, not answered when the survey closed
  msg_waiting       bigint NOT NULL DEFAULT 0,  -- not yet taken by a gateway
  msg_unreported    bigint NOT NULL DEFAULT 0,  -- taken, no delivery report (yet)
  msg_delivered     bigint NOT NULL DEFAULT 0,
  msg_failed_sent   bigint NOT NULL DEFAULT 0,  -- taken, then reported failed
  msg_failed_unsent bigint NOT NULL DEFAULT 0,  -- refused, or attempts ran out
  msg_expired       bigint NOT NULL DEFAULT 0,  -- not sent within its window
  msg_cancelled     bigint NOT NULL DEFAULT 0,
  opted_out         bigint NOT NULL DEFAULT 0   -- opt-outs, counted against the latest survey
) PARTITION BY LIST (cube);
-- The key, covering what a breakdown sums: a breakdown reads the index alone (an index-only
-- scan), whose pages hold one officer's or one beat's days side by side, where their rows are
-- scattered through the table in the order they arrived.
CREATE UNIQUE INDEX analytics_cells_key ON analytics_cells (cube, d1, d2, d3, group_id, day)
  INCLUDE (surveys, msg_unreported, msg_delivered, msg_failed_sent, answered) NULLS NOT DISTINCT;

-- Per cube cell and question: respondents, the sum of their scores and how many scored 8-10.
CREATE TABLE analytics_scores (
  cube        smallint NOT NULL,
  d1          text COLLATE "C",
  d2          text COLLATE "C",
  d3          text COLLATE "C",
  group_id    text COLLATE "C" NOT NULL,
  day         date NOT NULL,
  question    text COLLATE "C" NOT NULL,
  respondents bigint NOT NULL DEFAULT 0,
  total       bigint NOT NULL DEFAULT 0,
  top_box     bigint NOT NULL DEFAULT 0
) PARTITION BY LIST (cube);
CREATE UNIQUE INDEX analytics_scores_key
  ON analytics_scores (cube, d1, d2, d3, group_id, day, question)
  INCLUDE (respondents, total, top_box) NULLS NOT DISTINCT;

-- A partition per cube, so that each cube's rows lie together on disk: a year of totals (what
-- the dashboard reads first) is a few dozen pages, not a few thousand scattered among every
-- officer's and every beat's. Cubes added later go to the default partitions until given their
-- own.
DO $$
DECLARE
  c smallint;
BEGIN
  FOR c IN SELECT id FROM analytics_cubes ORDER BY id LOOP
    EXECUTE format('CREATE TABLE analytics_cells_%s PARTITION OF analytics_cells '
                   'FOR VALUES IN (%s)', c, c);
    EXECUTE format('CREATE TABLE analytics_scores_%s PARTITION OF analytics_scores '
                   'FOR VALUES IN (%s)', c, c);
  END LOOP;
END $$;
CREATE TABLE analytics_cells_other PARTITION OF analytics_cells DEFAULT;
CREATE TABLE analytics_scores_other PARTITION OF analytics_scores DEFAULT;

-- The top of the funnel, per local day of contact (receipt for rejected lines), group and
-- decision: every event, its later duplicate deliveries, and texts held by quiet hours.
CREATE TABLE analytics_events (
  day        date NOT NULL,
  group_id   text COLLATE "C" NOT NULL,  -- '' when no group took the event, and rejected lines
  outcome    text COLLATE "C" NOT NULL,  -- survey, excluded, ignored, rejected, undecided
  reason     text COLLATE "C" NOT NULL,  -- the deciding rule; '' for rejected lines
  events     bigint NOT NULL DEFAULT 0,
  duplicates bigint NOT NULL DEFAULT 0,
  deferred   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, group_id, outcome, reason)
);

CREATE TABLE analytics_cancellations (
  day      date NOT NULL,
  group_id text COLLATE "C" NOT NULL,
  reason   text COLLATE "C" NOT NULL,
  messages bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (day, group_id, reason)
);

-- How far analytics_sweep() has counted closed surveys.
CREATE TABLE analytics_watermarks (
  name text PRIMARY KEY,
  at   timestamptz NOT NULL
);

-- A change to one survey's counts; the triggers add these up into every cube.
CREATE TYPE analytics_delta AS (
  survey_id bigint, surveys integer, opened integer, answered integer,
  closed_unanswered integer, msg_waiting integer, msg_unreported integer, msg_delivered integer,
  msg_failed_sent integer, msg_failed_unsent integer, msg_expired integer,
  msg_cancelled integer, opted_out integer);

CREATE FUNCTION analytics_delta_of(survey_id bigint, sign integer, surveys integer DEFAULT 0,
                                   opened integer DEFAULT 0, answered integer DEFAULT 0,
                                   closed_unanswered integer DEFAULT 0,
                                   bucket text DEFAULT NULL, opted_out integer DEFAULT 0)
  RETURNS analytics_delta LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ROW(survey_id, sign * surveys, sign * opened, sign * answered,
               sign * closed_unanswered,
               sign * (bucket IS NOT DISTINCT FROM 'waiting')::int,
               sign * (bucket IS NOT DISTINCT FROM 'unreported')::int,
               sign * (bucket IS NOT DISTINCT FROM 'delivered')::int,
               sign * (bucket IS NOT DISTINCT FROM 'failed_sent')::int,
               sign * (bucket IS NOT DISTINCT FROM 'failed_unsent')::int,
               sign * (bucket IS NOT DISTINCT FROM 'expired')::int,
               sign * (bucket IS NOT DISTINCT FROM 'cancelled')::int, sign * opted_out)::analytics_delta $$;

-- Adds deltas into the cells of every cube. Rows are upserted in key order, so that concurrent
-- transactions lock cells in the same order and cannot deadlock on them. PL/pgSQL rather than
-- SQL so that the plan is kept per connection, not made again at every call.
CREATE FUNCTION analytics_add(deltas analytics_delta[]) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO analytics_cells AS c (cube, d1, d2, d3, group_id, day, surveys, opened, answered,
      closed_unanswered, msg_waiting, msg_unreported, msg_delivered, msg_failed_sent,
      msg_failed_unsent, msg_expired, msg_cancelled, opted_out)
    SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
           analytics_dim(k.dims[3], s), s.group_id, analytics_day(s.contact_at),
           sum(d.surveys), sum(d.opened), sum(d.answered), sum(d.closed_unanswered),
           sum(d.msg_waiting), sum(d.msg_unreported), sum(d.msg_delivered), sum(d.msg_failed_sent),
           sum(d.msg_failed_unsent), sum(d.msg_expired), sum(d.msg_cancelled), sum(d.opted_out)
    FROM unnest(deltas) AS d JOIN surveys s ON s.id = d.survey_id CROSS JOIN analytics_cubes k
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (cube, d1, d2, d3, group_id, day) DO UPDATE SET
      surveys = c.surveys + excluded.surveys, opened = c.opened + excluded.opened,
      answered = c.answered + excluded.answered,
      closed_unanswered = c.closed_unanswered + excluded.closed_unanswered,
      msg_waiting = c.msg_waiting + excluded.msg_waiting,
      msg_unreported = c.msg_unreported + excluded.msg_unreported,
      msg_delivered = c.msg_delivered + excluded.msg_delivered,
      msg_failed_sent = c.msg_failed_sent + excluded.msg_failed_sent,
      msg_failed_unsent = c.msg_failed_unsent + excluded.msg_failed_unsent,
      msg_expired = c.msg_expired + excluded.msg_expired,
      msg_cancelled = c.msg_cancelled + excluded.msg_cancelled,
      opted_out = c.opted_out + excluded.opted_out;
  END $$;

-- Adds (sign 1) or takes away (sign -1) responses' answers in every cube.
CREATE FUNCTION analytics_add_scores(answers responses[], direction integer) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO analytics_scores AS c (cube, d1, d2, d3, group_id, day, question, respondents,
                                       total, top_box)
    SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
           analytics_dim(k.dims[3], s), s.group_id, analytics_day(s.contact_at), a.question,
           direction * count(*), direction * sum(a.score),
           direction * count(*) FILTER (WHERE a.score >= 8)
    FROM unnest(answers) AS r JOIN surveys s ON s.id = r.survey_id
    CROSS JOIN LATERAL analytics_answers(r) AS a CROSS JOIN analytics_cubes k
    GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (cube, d1, d2, d3, group_id, day, question) DO UPDATE SET
      respondents = c.respondents + excluded.respondents, total = c.total + excluded.total,
      top_box = c.top_box + excluded.top_box;
  END $$;

---------------------------------------------------------------------------------------------------
-- Triggers. Statement-level with transition tables where rows arrive in batches (ingest), so a
-- batch costs one upsert per rollup, not one per row; row-level with a WHEN clause where only a
-- few updates matter (an outbox claim, a token hash) so the rest cost nothing.

CREATE FUNCTION analytics_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_events AS a (day, group_id, outcome, reason, events, duplicates, deferred)
  SELECT analytics_day(n.occurred_at), COALESCE(n.decision_group, ''),
         COALESCE(n.decision, 'undecided'), COALESCE(n.decision_reason, ''), count(*),
         sum(n.duplicates), count(*) FILTER (WHERE n.decision_trace ? 'quiet_hours')
  FROM new_rows n GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (day, group_id, outcome, reason) DO UPDATE SET
    events = a.events + excluded.events, duplicates = a.duplicates + excluded.duplicates,
    deferred = a.deferred + excluded.deferred;
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_events_inserted AFTER INSERT ON events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION analytics_events_inserted();

-- Later deliveries of an event (duplicates) and any change of its decision: the old row is taken
-- out and the new one put in.
CREATE FUNCTION analytics_events_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_events AS a (day, group_id, outcome, reason, events, duplicates, deferred)
  SELECT day, group_id, outcome, reason, sum(events), sum(duplicates), sum(deferred)
  FROM (SELECT analytics_day(n.occurred_at) AS day, COALESCE(n.decision_group, '') AS group_id,
               COALESCE(n.decision, 'undecided') AS outcome,
               COALESCE(n.decision_reason, '') AS reason, 1 AS events, n.duplicates,
               COALESCE(n.decision_trace ? 'quiet_hours', false)::int AS deferred
        FROM new_rows n
        UNION ALL
        SELECT analytics_day(o.occurred_at), COALESCE(o.decision_group, ''),
               COALESCE(o.decision, 'undecided'), COALESCE(o.decision_reason, ''), -1,
               -o.duplicates, -COALESCE(o.decision_trace ? 'quiet_hours', false)::int
        FROM old_rows o) AS change
  GROUP BY 1, 2, 3, 4
  HAVING sum(events) <> 0 OR sum(duplicates) <> 0 OR sum(deferred) <> 0
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (day, group_id, outcome, reason) DO UPDATE SET
    events = a.events + excluded.events, duplicates = a.duplicates + excluded.duplicates,
    deferred = a.deferred + excluded.deferred;
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_events_updated AFTER UPDATE ON events
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION analytics_events_updated();

CREATE FUNCTION analytics_rejected_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_events AS a (day, group_id, outcome, reason, events)
  SELECT analytics_day(n.received_at), '', 'rejected', '', count(*)
  FROM new_rows n GROUP BY 1 ORDER BY 1
  ON CONFLICT (day, group_id, outcome, reason) DO UPDATE SET events = a.events + excluded.events;
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_rejected_inserted AFTER INSERT ON rejected_events
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION analytics_rejected_inserted();

CREATE FUNCTION analytics_surveys_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add(ARRAY(
    SELECT analytics_delta_of(n.id, 1, surveys => 1, opened => (n.opened_at IS NOT NULL)::int)
    FROM new_rows n));
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_surveys_inserted AFTER INSERT ON surveys
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION analytics_surveys_inserted();

CREATE FUNCTION analytics_survey_opened() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add(ARRAY[analytics_delta_of(
    NEW.id, 1, opened => (NEW.opened_at IS NOT NULL)::int - (OLD.opened_at IS NOT NULL)::int)]);
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_survey_opened AFTER UPDATE OF opened_at ON surveys FOR EACH ROW
  WHEN ((OLD.opened_at IS NULL) <> (NEW.opened_at IS NULL))
  EXECUTE FUNCTION analytics_survey_opened();

CREATE FUNCTION analytics_outbox_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add(ARRAY(
    SELECT analytics_delta_of(n.survey_id, 1,
             bucket => analytics_message_bucket(n.state, n.gateway_message_id IS NOT NULL))
    FROM new_rows n WHERE n.kind = 'survey'));
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_outbox_inserted AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION analytics_outbox_inserted();

CREATE FUNCTION analytics_outbox_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add(ARRAY[
    analytics_delta_of(OLD.survey_id, -1,
      bucket => analytics_message_bucket(OLD.state, OLD.gateway_message_id IS NOT NULL)),
    analytics_delta_of(NEW.survey_id, 1,
      bucket => analytics_message_bucket(NEW.state, NEW.gateway_message_id IS NOT NULL))]);
  IF NEW.state = 'cancelled' AND OLD.state <> 'cancelled' THEN
    INSERT INTO analytics_cancellations AS a (day, group_id, reason, messages)
    SELECT analytics_day(s.contact_at), s.group_id, analytics_cancel_reason(NEW), 1
    FROM surveys s WHERE s.id = NEW.survey_id
    ON CONFLICT (day, group_id, reason) DO UPDATE SET messages = a.messages + 1;
  END IF;
  RETURN NULL;
END $$;
-- A claim (pending -> sending) or a retry does not move a text between buckets: no work.
CREATE TRIGGER analytics_outbox_moved AFTER UPDATE OF state, gateway_message_id ON outbox
  FOR EACH ROW
  WHEN (NEW.kind = 'survey' AND analytics_message_bucket(OLD.state, OLD.gateway_message_id IS NOT NULL)
        IS DISTINCT FROM analytics_message_bucket(NEW.state, NEW.gateway_message_id IS NOT NULL))
  EXECUTE FUNCTION analytics_outbox_moved();

CREATE FUNCTION analytics_responses_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add(ARRAY(
    SELECT analytics_delta_of(n.survey_id, 1, answered => 1) FROM new_rows n));
  PERFORM analytics_add_scores(ARRAY(SELECT n::responses FROM new_rows n), 1);
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_responses_inserted AFTER INSERT ON responses
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION analytics_responses_inserted();

-- Answers changed after the fact (a reply by SMS completing a response): old out, new in.
CREATE FUNCTION analytics_responses_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add_scores(ARRAY(
    SELECT o::responses FROM old_rows o JOIN new_rows n USING (survey_id)
    WHERE (o.q1, o.q2, o.q3, o.q4, o.q5) IS DISTINCT FROM (n.q1, n.q2, n.q3, n.q4, n.q5)), -1);
  PERFORM analytics_add_scores(ARRAY(
    SELECT n::responses FROM old_rows o JOIN new_rows n USING (survey_id)
    WHERE (o.q1, o.q2, o.q3, o.q4, o.q5) IS DISTINCT FROM (n.q1, n.q2, n.q3, n.q4, n.q5)), 1);
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_responses_updated AFTER UPDATE ON responses
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION analytics_responses_updated();

-- An opt-out counts against the number's latest survey (the text it answered, usually).
CREATE FUNCTION analytics_opted_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add(ARRAY(
    SELECT analytics_delta_of(latest.id, 1, opted_out => 1)
    FROM new_rows n CROSS JOIN LATERAL (
      SELECT s.id FROM surveys s WHERE s.phone_hash = n.phone_hash
      ORDER BY s.contact_at DESC LIMIT 1) AS latest));
  RETURN NULL;
END $$;
CREATE TRIGGER analytics_opted_out AFTER INSERT ON opt_outs
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_opted_out();

-- Surveys close by the clock, not by a write: the daemon calls this every minute with a time a
-- few minutes back (so an answer committing at the last moment is seen first). It counts the
-- texted, unanswered surveys that closed since the last call; two instances calling at once
-- take turns on the watermark row and count each survey once. Returns how many it counted.
CREATE FUNCTION analytics_sweep(upto timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  since timestamptz;
  closed analytics_delta[];
BEGIN
  SELECT at INTO since FROM analytics_watermarks WHERE name = 'closed' FOR UPDATE;
  IF since IS NULL OR upto <= since THEN
    RETURN 0;
  END IF;
  closed := ARRAY(
    SELECT analytics_delta_of(s.id, 1, closed_unanswered => 1)
    FROM surveys s JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey'
    WHERE s.closes_at > since AND s.closes_at <= upto
      AND analytics_message_bucket(o.state, o.gateway_message_id IS NOT NULL)
          IN ('delivered', 'unreported')
      AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.survey_id = s.id));
  PERFORM analytics_add(closed);
  UPDATE analytics_watermarks SET at = upto WHERE name = 'closed';
  RETURN cardinality(closed);
END $$;

-- Derives every rollup from the raw tables, as if each row had arrived through the triggers,
-- with surveys closed up to `closed_upto` counted. For the migration, a new cube, a repair, or
-- a bulk load done with triggers off. Takes a while on a big database; nothing calls it
-- otherwise.
-- Millions of groups are hashed in memory where they fit, not sorted by their text keys.
CREATE FUNCTION analytics_rebuild(closed_upto timestamptz) RETURNS void LANGUAGE plpgsql
  SET work_mem = '256MB' SET enable_sort = off SET enable_incremental_sort = off AS $$
BEGIN
  LOCK TABLE analytics_cells, analytics_scores, analytics_events, analytics_cancellations,
    analytics_watermarks IN EXCLUSIVE MODE;
  TRUNCATE analytics_cells, analytics_scores, analytics_events, analytics_cancellations;
  -- The two big indexes are built once at the end rather than row by row.
  DROP INDEX analytics_cells_key;
  DROP INDEX analytics_scores_key;

  INSERT INTO analytics_events (day, group_id, outcome, reason, events, duplicates, deferred)
  SELECT analytics_day(occurred_at), COALESCE(decision_group, ''), COALESCE(decision, 'undecided'),
         COALESCE(decision_reason, ''), count(*), sum(duplicates),
         count(*) FILTER (WHERE decision_trace ? 'quiet_hours')
  FROM events GROUP BY 1, 2, 3, 4;
  INSERT INTO analytics_events (day, group_id, outcome, reason, events)
  SELECT analytics_day(received_at), '', 'rejected', '', count(*) FROM rejected_events GROUP BY 1;

  INSERT INTO analytics_cancellations (day, group_id, reason, messages)
  SELECT analytics_day(s.contact_at), s.group_id, analytics_cancel_reason(o), count(*)
  FROM outbox o JOIN surveys s ON s.id = o.survey_id WHERE o.state = 'cancelled' AND o.kind = 'survey'
  GROUP BY 1, 2, 3;

  INSERT INTO analytics_cells (cube, d1, d2, d3, group_id, day, surveys, opened, answered,
    closed_unanswered, msg_waiting, msg_unreported, msg_delivered, msg_failed_sent,
    msg_failed_unsent, msg_expired, msg_cancelled, opted_out)
  SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
         analytics_dim(k.dims[3], s), s.group_id, analytics_day(s.contact_at),
         count(*), count(s.opened_at), count(r.survey_id),
         count(*) FILTER (WHERE r.survey_id IS NULL AND s.closes_at <= closed_upto
                          AND m.bucket IN ('delivered', 'unreported')),
         count(*) FILTER (WHERE m.bucket = 'waiting'),
         count(*) FILTER (WHERE m.bucket = 'unreported'),
         count(*) FILTER (WHERE m.bucket = 'delivered'),
         count(*) FILTER (WHERE m.bucket = 'failed_sent'),
         count(*) FILTER (WHERE m.bucket = 'failed_unsent'),
         count(*) FILTER (WHERE m.bucket = 'expired'),
         count(*) FILTER (WHERE m.bucket = 'cancelled'),
         COALESCE(sum(opt.n), 0)
  FROM surveys s
  LEFT JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey'
  LEFT JOIN responses r ON r.survey_id = s.id
  LEFT JOIN (SELECT latest.id, count(*) AS n FROM opt_outs x CROSS JOIN LATERAL (
               SELECT s2.id FROM surveys s2 WHERE s2.phone_hash = x.phone_hash
               ORDER BY s2.contact_at DESC LIMIT 1) AS latest GROUP BY 1) AS opt ON opt.id = s.id
  CROSS JOIN LATERAL (SELECT analytics_message_bucket(o.state, o.gateway_message_id IS NOT NULL)
                      AS bucket) AS m
  CROSS JOIN analytics_cubes k
  GROUP BY 1, 2, 3, 4, 5, 6;

  INSERT INTO analytics_scores (cube, d1, d2, d3, group_id, day, question, respondents, total,
                                top_box)
  SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
         analytics_dim(k.dims[3], s), s.group_id, analytics_day(s.contact_at), a.question,
         count(*), sum(a.score), count(*) FILTER (WHERE a.score >= 8)
  FROM responses r JOIN surveys s ON s.id = r.survey_id
  CROSS JOIN LATERAL analytics_answers(r) AS a CROSS JOIN analytics_cubes k
  GROUP BY 1, 2, 3, 4, 5, 6, 7;

  CREATE UNIQUE INDEX analytics_cells_key ON analytics_cells (cube, d1, d2, d3, group_id, day)
    INCLUDE (surveys, msg_unreported, msg_delivered, msg_failed_sent, answered)
    NULLS NOT DISTINCT;
  CREATE UNIQUE INDEX analytics_scores_key
    ON analytics_scores (cube, d1, d2, d3, group_id, day, question)
    INCLUDE (respondents, total, top_box) NULLS NOT DISTINCT;

  INSERT INTO analytics_watermarks (name, at) VALUES ('closed', closed_upto)
  ON CONFLICT (name) DO UPDATE SET at = excluded.at;
END $$;

---------------------------------------------------------------------------------------------------
-- Comments: phone numbers and e-mail addresses are masked when the answer is written (and here
-- for what is already stored), into a column of their own, and only that column is indexed and
-- shown. Masking at write time means the search index never holds a number, so a search for
-- one finds nothing, and the raw comment can be erased later without touching the statistics.

-- Masks e-mail addresses (also "name [at] host [dot] uk" forms) and phone numbers: any run of
-- digits and separators (spaces, - . / ( ) and no-break spaces) holding 10 or more digits, which
-- covers every UK format (07700 900123, +44 (0)20 7946 0000, 0044 121 496 0000, (0121) 496-0000),
-- or 7 or more after a "+". It errs towards masking: a long reference number is masked too.
CREATE FUNCTION surveyd_mask_contact_details(text_in text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  t text := text_in;
  run_pattern constant text := '[+(]?[0-9][-0-9 ()./\u00a0]*[0-9]';
  out text := '';
  pos integer := 1;
  found integer;
  candidate text;
  digits integer;
BEGIN
  IF t IS NULL OR t = '' THEN
    RETURN t;
  END IF;
  t := regexp_replace(t, '[[:alnum:]._%+''-]+@[[:alnum:]-]+(\.[[:alnum:]-]+)+', '[email removed]',
                      'g');
  t := regexp_replace(t, '[[:alnum:]._%+-]+(\s+dot\s+[[:alnum:]_%+-]+)*\s*[[(]\s*at\s*[])]\s*'
                         '[[:alnum:]-]+'
                         '(\s*([.]|[[(]\s*dot\s*[])])\s*[[:alnum:]-]+)+', '[email removed]', 'gi');
  LOOP
    found := regexp_instr(t, run_pattern, pos);
    EXIT WHEN found = 0;
    candidate := regexp_substr(t, run_pattern, pos);
    digits := length(regexp_replace(candidate, '[^0-9]', '', 'g'));
    out := out || substr(t, pos, found - pos);
    IF digits >= 10 OR (left(candidate, 1) = '+' AND digits >= 7) THEN
      out := out || '[phone removed]';
    ELSE
      out := out || candidate;
    END IF;
    pos := found + length(candidate);
  END LOOP;
  RETURN out || substr(t, pos);
END $$;

ALTER TABLE responses ADD COLUMN comment_masked text NOT NULL DEFAULT '';
ALTER TABLE responses ADD COLUMN comment_search tsvector
  GENERATED ALWAYS AS (to_tsvector('english', comment_masked)) STORED;

CREATE FUNCTION analytics_mask_comment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.comment_masked := surveyd_mask_contact_details(NEW.comment);
  RETURN NEW;
END $$;
CREATE TRIGGER analytics_mask_comment BEFORE INSERT OR UPDATE OF comment ON responses
  FOR EACH ROW EXECUTE FUNCTION analytics_mask_comment();

UPDATE responses SET comment = comment WHERE comment <> '';
CREATE INDEX responses_comment_search ON responses USING gin (comment_search);

-- Everything stored so far, counted once; surveys closing from here on are the sweeper's.
SELECT analytics_rebuild(now() - interval '5 minutes');
