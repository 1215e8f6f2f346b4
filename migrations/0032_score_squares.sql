-- Honest statistics for means (issue 8): each score cell also keeps the sum of its scores
-- squared, so that a mean comes with its 95% interval as a share does (a mean of 7.2 from twelve
-- answers says less than one from twelve hundred). Kept as the other sums are: added by the fold
-- in the transactions that fold answers, derived by analytics_rebuild(), and read from the
-- rollup's key index alone (the column is in its INCLUDE).

-- Writers wait until this commits: none of their answers is folded without its squares.
LOCK TABLE analytics_cells, analytics_scores IN EXCLUSIVE MODE;

ALTER TABLE analytics_scores ADD COLUMN squares bigint NOT NULL DEFAULT 0;

-- As in 0024, with the squares.
CREATE OR REPLACE FUNCTION analytics_add_scores(answers responses[], direction integer)
  RETURNS void LANGUAGE plpgsql SET work_mem = '32MB' AS $$
  BEGIN
    WITH v AS MATERIALIZED (
      SELECT s.group_id, analytics_day(s.contact_at) AS day, analytics_dim_values(s) AS dims,
             a.question, a.score
      FROM unnest(answers) AS r JOIN surveys s ON s.id = r.survey_id
      CROSS JOIN LATERAL analytics_answers(r) AS a),
    k AS MATERIALIZED (SELECT * FROM analytics_cube_dims)
    INSERT INTO analytics_scores AS c (cube, d1, d2, d3, group_id, day, question, respondents,
                                       total, top_box, squares)
    SELECT k.id, v.dims[k.at1] COLLATE "C", v.dims[k.at2] COLLATE "C", v.dims[k.at3] COLLATE "C",
           v.group_id,
           analytics_period_of_day(k.by_month, v.day),
           v.question, direction * count(*), direction * sum(v.score),
           direction * count(*) FILTER (WHERE v.score >= 8), direction * sum(v.score * v.score)
    FROM v CROSS JOIN k
    GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (cube, d1, d2, d3, group_id, day, question) DO UPDATE SET
      respondents = c.respondents + excluded.respondents, total = c.total + excluded.total,
      top_box = c.top_box + excluded.top_box, squares = c.squares + excluded.squares;
  END $$;

-- As in 0007 (renamed in 0009), with the squares in the score cells and their key index.
CREATE OR REPLACE FUNCTION analytics_rebuild_from_tables(closed_upto timestamptz) RETURNS void LANGUAGE plpgsql
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
  FROM outbox o JOIN surveys s ON s.id = o.survey_id
  WHERE o.state = 'cancelled' AND o.kind = 'survey'
  GROUP BY 1, 2, 3;

  INSERT INTO analytics_cells (cube, d1, d2, d3, group_id, day, surveys, opened, answered,
    closed_unanswered, msg_waiting, msg_unreported, msg_delivered, msg_failed_sent,
    msg_failed_unsent, msg_expired, msg_cancelled, opted_out)
  SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
         analytics_dim(k.dims[3], s), s.group_id, analytics_period(k.by_month, s.contact_at),
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
                                top_box, squares)
  SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
         analytics_dim(k.dims[3], s), s.group_id, analytics_period(k.by_month, s.contact_at),
         a.question,
         count(*), sum(a.score), count(*) FILTER (WHERE a.score >= 8), sum(a.score * a.score)
  FROM responses r JOIN surveys s ON s.id = r.survey_id
  CROSS JOIN LATERAL analytics_answers(r) AS a CROSS JOIN analytics_cubes k
  GROUP BY 1, 2, 3, 4, 5, 6, 7;

  CREATE UNIQUE INDEX analytics_cells_key ON analytics_cells (cube, d1, d2, d3, group_id, day)
    INCLUDE (surveys, msg_unreported, msg_delivered, msg_failed_sent, answered)
    NULLS NOT DISTINCT;
  CREATE UNIQUE INDEX analytics_scores_key
    ON analytics_scores (cube, d1, d2, d3, group_id, day, question)
    INCLUDE (respondents, total, top_box, squares) NULLS NOT DISTINCT;

  INSERT INTO analytics_watermarks (name, at) VALUES ('closed', closed_upto)
  ON CONFLICT (name) DO UPDATE SET at = excluded.at;
END $$;

-- The days at either end of a period (0007), with the squares.
DROP INDEX analytics_scores_0_day;
CREATE INDEX analytics_scores_0_day ON analytics_scores_0 (day)
  INCLUDE (group_id, question, respondents, total, top_box, squares);

-- The squares of the answers stored so far: every rollup derived again from the raw tables, as
-- they stand (with the key index, now including the squares), up to the same watermark. Minutes
-- at national scale, under the locks above: once, when this version first starts.
SELECT analytics_rebuild((SELECT at FROM analytics_watermarks WHERE name = 'closed'));
