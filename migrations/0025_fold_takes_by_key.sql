-- The fold takes each batch from its queue by key, not by reading the whole queue (issue 7: the
-- dispatch benchmark's drain; issue 11: any backlog of rollup changes).
--
-- Each batch was `DELETE ... WHERE id IN (SELECT id ... ORDER BY id LIMIT batch)`, which the
-- planner runs as a hash semi-join over a sequential scan of the queue: every batch of 5,000 read
-- every queued change. Folds fall behind exactly when changes arrive fastest (a drain of a
-- backlog of texts queues one change per send), so the queue was longest when each batch read it
-- all: with 100,000 changes queued, taking a batch cost 19 ms, against 7 ms now, and a fold of the
-- whole queue grew with its square. Now the batch's keys are read from the primary key in order
-- and its rows deleted by those keys (`= ANY(ARRAY(...))`, an index scan whatever the statistics),
-- so a batch costs the same however long the queue. What a batch takes is unchanged: the oldest
-- `batch` changes this transaction sees; changes committed later are the next fold's.

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
      WHERE id = ANY (ARRAY(SELECT id FROM analytics_cell_queue ORDER BY id LIMIT batch))
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
      WHERE id = ANY (ARRAY(SELECT id FROM analytics_score_queue ORDER BY id LIMIT batch))
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
      WHERE id = ANY (ARRAY(SELECT id FROM analytics_event_queue ORDER BY id LIMIT batch))
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
