-- Ingest speed (issue 11: pushes over HTTP, bench/ingest.sh with pg_stat_statements counting the
-- statements triggers run).
--
-- A survey and its survey text are inserted by one statement (ingest_surveys in
-- src/store/pg_ingest.cpp), and 0004 gave each insert its own rollup trigger: the survey's added
-- `surveys` to every cube, the text's added its bucket (waiting) to every cube, so each new
-- survey upserted the same cells twice, in two calls of analytics_add. They were the largest part
-- of an ingest transaction's database time. A survey gets exactly one survey text, with it
-- (outbox_survey_text is unique), so the text's insert now adds both: one delta per survey, each
-- cell written once. analytics_rebuild() counts surveys from `surveys` as before, and the
-- analytics integration test holds the rollups to it.
DROP TRIGGER analytics_surveys_inserted ON surveys;
DROP FUNCTION analytics_surveys_inserted();

CREATE OR REPLACE FUNCTION analytics_outbox_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM analytics_add(ARRAY(
    SELECT analytics_delta_of(n.survey_id, 1, surveys => 1,
             bucket => analytics_message_bucket(n.state, n.gateway_message_id IS NOT NULL))
    FROM new_rows n WHERE n.kind = 'survey'));
  RETURN NULL;
END $$;

---------------------------------------------------------------------------------------------------
-- The busiest writes add to the rollups through a queue. Every ingest transaction upserted the
-- day's analytics_events row for its group and decision and the day's cells of its surveys in
-- every cube, and every batch of sends recorded did the same for its texts: a few hot rows that
-- each transaction paid for and held until its commit, so concurrent writers queued behind one
-- another on them (bench/ingest.sh: a second group of pushes written at once only waited for the
-- first's rows). Now those writes append their changes to a queue, which nobody waits on, and
-- analytics_fold() adds them up into the rollups a few thousand at a time, each cell written once
-- per fold. The daemon folds several times a second and an analyst's read folds first, so a figure
-- never misses what was committed before the request. The rarer writes (answers, opens,
-- opt-outs, rejected lines, cancellations, the sweep of closed surveys) still add directly: all
-- of it is sums, in any order.
CREATE TABLE analytics_cell_queue (
  id    bigserial PRIMARY KEY,
  delta analytics_delta NOT NULL
);
CREATE TABLE analytics_event_queue (
  id         bigserial PRIMARY KEY,
  day        date NOT NULL,
  group_id   text COLLATE "C" NOT NULL,
  outcome    text COLLATE "C" NOT NULL,
  reason     text COLLATE "C" NOT NULL,
  events     bigint NOT NULL,
  duplicates bigint NOT NULL,
  deferred   bigint NOT NULL
);

CREATE OR REPLACE FUNCTION analytics_outbox_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_delta_of(n.survey_id, 1, surveys => 1,
           bucket => analytics_message_bucket(n.state, n.gateway_message_id IS NOT NULL))
  FROM new_rows n WHERE n.kind = 'survey';
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION analytics_outbox_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_move_of(m.survey_id, m.was, m.now)
  FROM (SELECT n.survey_id,
               analytics_message_bucket(o.state, o.gateway_message_id IS NOT NULL) AS was,
               analytics_message_bucket(n.state, n.gateway_message_id IS NOT NULL) AS now
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE n.kind = 'survey') AS m
  WHERE m.was IS DISTINCT FROM m.now;
  INSERT INTO analytics_cancellations AS a (day, group_id, reason, messages)
  SELECT analytics_day(s.contact_at), s.group_id, analytics_cancel_reason(n::outbox), count(*)
  FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN surveys s ON s.id = n.survey_id
  WHERE n.kind = 'survey' AND n.state = 'cancelled' AND o.state <> 'cancelled'
  GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
  ON CONFLICT (day, group_id, reason) DO UPDATE SET messages = a.messages + excluded.messages;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION analytics_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_event_queue (day, group_id, outcome, reason, events, duplicates, deferred)
  SELECT analytics_day(n.occurred_at), COALESCE(n.decision_group, ''),
         COALESCE(n.decision, 'undecided'), COALESCE(n.decision_reason, ''), count(*),
         sum(n.duplicates), count(*) FILTER (WHERE n.decision_trace ? 'quiet_hours')
  FROM new_rows n GROUP BY 1, 2, 3, 4;
  RETURN NULL;
END $$;

-- Later deliveries of an event (duplicates) and any change of its decision: the old row out,
-- the new one in.
CREATE OR REPLACE FUNCTION analytics_events_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_event_queue (day, group_id, outcome, reason, events, duplicates, deferred)
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
  HAVING sum(events) <> 0 OR sum(duplicates) <> 0 OR sum(deferred) <> 0;
  RETURN NULL;
END $$;

-- Adds up to `batches` batches of `batch` queued changes into the rollups; returns how many it
-- added. One folder at a time: another caller waits for it and then folds what is left, so a
-- reader that folds first sees everything committed before it asked. Under a steady load the
-- queue refills while it folds: the bound keeps one call short, and the next call goes on.
CREATE FUNCTION analytics_fold(batch integer, batches integer) RETURNS integer
  LANGUAGE plpgsql AS $$
DECLARE
  cells analytics_delta[];
  folded integer := 0;
  taken integer;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('surveyd.analytics_fold'));
  FOR i IN 1..batches LOOP
    WITH gone AS (
      DELETE FROM analytics_cell_queue
      WHERE id IN (SELECT id FROM analytics_cell_queue ORDER BY id LIMIT batch)
      RETURNING delta)
    SELECT array_agg(delta) INTO cells FROM gone;
    EXIT WHEN cells IS NULL;
    PERFORM analytics_add(cells);
    folded := folded + cardinality(cells);
    EXIT WHEN cardinality(cells) < batch;
  END LOOP;
  FOR i IN 1..batches LOOP
    WITH gone AS (
      DELETE FROM analytics_event_queue
      WHERE id IN (SELECT id FROM analytics_event_queue ORDER BY id LIMIT batch)
      RETURNING *),
    added AS (
      INSERT INTO analytics_events AS a (day, group_id, outcome, reason, events, duplicates,
                                         deferred)
      SELECT day, group_id, outcome, reason, sum(events), sum(duplicates), sum(deferred)
      FROM gone GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
      ON CONFLICT (day, group_id, outcome, reason) DO UPDATE SET
        events = a.events + excluded.events, duplicates = a.duplicates + excluded.duplicates,
        deferred = a.deferred + excluded.deferred)
    SELECT count(*) INTO taken FROM gone;
    folded := folded + taken;
    EXIT WHEN taken < batch;
  END LOOP;
  RETURN folded;
END $$;

-- A rebuild derives every rollup from the raw tables, which already hold what is queued: the
-- queues are emptied under the same locks (writers wait until the rebuild commits, then queue
-- their changes on top of it).
ALTER FUNCTION analytics_rebuild(timestamptz) RENAME TO analytics_rebuild_from_tables;
CREATE FUNCTION analytics_rebuild(closed_upto timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('surveyd.analytics_fold'));
  LOCK TABLE analytics_cell_queue, analytics_event_queue IN EXCLUSIVE MODE;
  DELETE FROM analytics_cell_queue;
  DELETE FROM analytics_event_queue;
  PERFORM analytics_rebuild_from_tables(closed_upto);
END $$;
