-- A citizen's writes add to the rollups through the queues too (issue 11: the soak's statement
-- table).
--
-- Migration 0009 queued the busiest writes (new events, new texts, texts moving between buckets)
-- and left the rarer ones adding directly: an answer, a first open, an opt-out, the sweep of
-- closed surveys. Under the soak's load (bench/soak.sh, 1,000 events/s) those rarer writes were
-- the slowest statements of the run: an answer's INSERT 150 ms on average, a batch of opens
-- 194 ms, an opt-out 134 ms, against 8-20 ms, 5 ms and less on the same database at rest. They
-- upserted the same day's cells of their group that analytics_fold() was writing, a few times a
-- second, and waited for each fold's commit; and an answer upserted its five scores in every cube
-- itself, row by row, where a fold adds up a batch of answers into each score cell once. These
-- are the writes a citizen waits on (the page's "thank you", a STOP's confirmation), so they
-- now append their changes to a queue like the rest, and only the folder writes the rollups.
--
-- Answers' scores get a queue of their own, holding only what the scores need: the survey and
-- its five scores, never the comment (a personal value retention must find in one place).
--
-- And the fold itself was slow for a reason of its own: the planner took analytics_cubes, ten
-- rows that autovacuum never analyzes (too few changes), for 1,290, so a fold of a few thousand
-- changes looked like millions of rows, and PostgreSQL compiled the statement with JIT at every
-- call: on the soak's database a fold of 1,000 changes took 1.26 s, of which about 1.2 s was
-- compiling, against 30-65 ms without. The table is analyzed here (it changes only when a
-- migration adds a cube), and the fold runs with JIT off: its statements are many small upserts,
-- never worth compiling.

CREATE TABLE analytics_score_queue (
  id        bigserial PRIMARY KEY,
  survey_id bigint NOT NULL,
  direction smallint NOT NULL CHECK (direction IN (-1, 1)),
  q1        smallint,
  q2        smallint,
  q3        smallint,
  q4        smallint,
  q5        smallint
);

-- Queued answers as `responses` rows, for analytics_add_scores() and analytics_answers(), which
-- know the five columns; built by name, so a column added to responses later changes nothing.
CREATE FUNCTION analytics_queued_answers(queued analytics_score_queue[], want smallint)
  RETURNS responses[] LANGUAGE sql STABLE AS $$
    SELECT COALESCE(array_agg(jsonb_populate_record(NULL::responses, jsonb_build_object(
             'survey_id', q.survey_id, 'q1', q.q1, 'q2', q.q2, 'q3', q.q3, 'q4', q.q4,
             'q5', q.q5))), '{}')
    FROM unnest(queued) AS q WHERE q.direction = want $$;

CREATE OR REPLACE FUNCTION analytics_survey_opened() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_cell_queue (delta) VALUES (analytics_delta_of(
    NEW.id, 1, opened => (NEW.opened_at IS NOT NULL)::int - (OLD.opened_at IS NOT NULL)::int));
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION analytics_responses_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_delta_of(n.survey_id, 1, answered => 1) FROM new_rows n;
  INSERT INTO analytics_score_queue (survey_id, direction, q1, q2, q3, q4, q5)
  SELECT n.survey_id, 1, n.q1, n.q2, n.q3, n.q4, n.q5 FROM new_rows n;
  RETURN NULL;
END $$;

-- Answers changed after the fact (a reply by SMS completing a response): old out, new in.
CREATE OR REPLACE FUNCTION analytics_responses_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_score_queue (survey_id, direction, q1, q2, q3, q4, q5)
  SELECT c.survey_id, c.direction, c.q1, c.q2, c.q3, c.q4, c.q5
  FROM old_rows o JOIN new_rows n USING (survey_id)
  CROSS JOIN LATERAL (VALUES (o.survey_id, -1, o.q1, o.q2, o.q3, o.q4, o.q5),
                             (n.survey_id, 1, n.q1, n.q2, n.q3, n.q4, n.q5))
    AS c(survey_id, direction, q1, q2, q3, q4, q5)
  WHERE (o.q1, o.q2, o.q3, o.q4, o.q5) IS DISTINCT FROM (n.q1, n.q2, n.q3, n.q4, n.q5);
  RETURN NULL;
END $$;

-- An opt-out counts against the number's latest survey at the moment it is stored.
CREATE OR REPLACE FUNCTION analytics_opted_out() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_delta_of(latest.id, 1, opted_out => 1)
  FROM new_rows n CROSS JOIN LATERAL (
    SELECT s.id FROM surveys s WHERE s.phone_hash = n.phone_hash
    ORDER BY s.contact_at DESC LIMIT 1) AS latest;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION analytics_sweep(upto timestamptz) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  since timestamptz;
  closed integer;
BEGIN
  SELECT at INTO since FROM analytics_watermarks WHERE name = 'closed' FOR UPDATE;
  IF since IS NULL OR upto <= since THEN
    RETURN 0;
  END IF;
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_delta_of(s.id, 1, closed_unanswered => 1)
  FROM surveys s JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey'
  WHERE s.closes_at > since AND s.closes_at <= upto
    AND analytics_message_bucket(o.state, o.gateway_message_id IS NOT NULL)
        IN ('delivered', 'unreported')
    AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.survey_id = s.id);
  GET DIAGNOSTICS closed = ROW_COUNT;
  UPDATE analytics_watermarks SET at = upto WHERE name = 'closed';
  RETURN closed;
END $$;

ANALYZE analytics_cubes;

-- As in 0009, with the answers' scores folded after the cells, and JIT off.
CREATE OR REPLACE FUNCTION analytics_fold(batch integer, batches integer) RETURNS integer
  LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  cells analytics_delta[];
  answers analytics_score_queue[];
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
      DELETE FROM analytics_score_queue
      WHERE id IN (SELECT id FROM analytics_score_queue ORDER BY id LIMIT batch)
      RETURNING *)
    SELECT array_agg(gone::analytics_score_queue) INTO answers FROM gone;
    EXIT WHEN answers IS NULL;
    -- Put in before taken out: an answer taken out (changed by a later reply) was put in
    -- before, in this batch or an earlier one, so no cell goes below zero on the way.
    PERFORM analytics_add_scores(analytics_queued_answers(answers, 1::smallint), 1);
    PERFORM analytics_add_scores(analytics_queued_answers(answers, -1::smallint), -1);
    folded := folded + cardinality(answers);
    EXIT WHEN cardinality(answers) < batch;
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

-- As in 0009, emptying the answers' queue too.
CREATE OR REPLACE FUNCTION analytics_rebuild(closed_upto timestamptz) RETURNS void
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('surveyd.analytics_fold'));
  LOCK TABLE analytics_cell_queue, analytics_event_queue, analytics_score_queue IN EXCLUSIVE MODE;
  DELETE FROM analytics_cell_queue;
  DELETE FROM analytics_event_queue;
  DELETE FROM analytics_score_queue;
  PERFORM analytics_rebuild_from_tables(closed_upto);
END $$;
