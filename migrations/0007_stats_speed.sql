-- surveyd schema, analytics speed (issue 8, "Speed at national scale").
--
-- The headline tiles (every respondent of a period, per question) read cube 0, a row per group
-- and day: a year is 730 cells and 3,650 score rows, every one read for every tile. Cubes may now
-- also be kept per calendar month (analytics_cubes.by_month: the cell's day is the month's first
-- day): cube 9 is cube 0 per month, so that a period reads its whole months from cube 9 and only
-- the days at either end from cube 0, a few dozen rows whatever its length.
--
-- The triggers keep it as they keep every cube (analytics_add, analytics_add_scores: one more
-- row per group of a statement's changes), in the same transaction; analytics_rebuild() derives
-- it with the others. Here it is derived once from cube 0's days, without rescanning anything.
-- Cube 0's partitions get an index by day, for the days at either end.

-- Writers wait until this commits, then count into the new cube too: none is missed between the
-- derivation below and the commit.
LOCK TABLE analytics_cells, analytics_scores IN EXCLUSIVE MODE;

ALTER TABLE analytics_cubes ADD COLUMN by_month boolean NOT NULL DEFAULT false;

-- The day a cell of a cube is kept under: the local day of contact, or for a cube kept per month
-- the first day of that day's month.
CREATE FUNCTION analytics_period(by_month boolean, t timestamptz) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN by_month THEN date_trunc('month', analytics_day(t)::timestamp)::date
                ELSE analytics_day(t) END $$;

CREATE OR REPLACE FUNCTION analytics_add(deltas analytics_delta[]) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO analytics_cells AS c (cube, d1, d2, d3, group_id, day, surveys, opened, answered,
      closed_unanswered, msg_waiting, msg_unreported, msg_delivered, msg_failed_sent,
      msg_failed_unsent, msg_expired, msg_cancelled, opted_out)
    SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
           analytics_dim(k.dims[3], s), s.group_id, analytics_period(k.by_month, s.contact_at),
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

CREATE OR REPLACE FUNCTION analytics_add_scores(answers responses[], direction integer) RETURNS void
  LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO analytics_scores AS c (cube, d1, d2, d3, group_id, day, question, respondents,
                                       total, top_box)
    SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
           analytics_dim(k.dims[3], s), s.group_id, analytics_period(k.by_month, s.contact_at),
           a.question,
           direction * count(*), direction * sum(a.score),
           direction * count(*) FILTER (WHERE a.score >= 8)
    FROM unnest(answers) AS r JOIN surveys s ON s.id = r.survey_id
    CROSS JOIN LATERAL analytics_answers(r) AS a CROSS JOIN analytics_cubes k
    GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (cube, d1, d2, d3, group_id, day, question) DO UPDATE SET
      respondents = c.respondents + excluded.respondents, total = c.total + excluded.total,
      top_box = c.top_box + excluded.top_box;
  END $$;

-- As in 0004, with each cube's cells under analytics_period().
CREATE OR REPLACE FUNCTION analytics_rebuild(closed_upto timestamptz) RETURNS void LANGUAGE plpgsql
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
                                top_box)
  SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
         analytics_dim(k.dims[3], s), s.group_id, analytics_period(k.by_month, s.contact_at),
         a.question,
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

-- Cube 9: cube 0 per month, in a partition of its own (created while the default partitions
-- hold no row of it), derived from cube 0's days.
INSERT INTO analytics_cubes (id, dims, by_month) VALUES (9, '{}', true);
CREATE TABLE analytics_cells_9 PARTITION OF analytics_cells FOR VALUES IN (9);
CREATE TABLE analytics_scores_9 PARTITION OF analytics_scores FOR VALUES IN (9);

INSERT INTO analytics_cells (cube, d1, d2, d3, group_id, day, surveys, opened, answered,
  closed_unanswered, msg_waiting, msg_unreported, msg_delivered, msg_failed_sent,
  msg_failed_unsent, msg_expired, msg_cancelled, opted_out)
SELECT 9, d1, d2, d3, group_id, date_trunc('month', day::timestamp)::date, sum(surveys),
       sum(opened), sum(answered), sum(closed_unanswered), sum(msg_waiting), sum(msg_unreported),
       sum(msg_delivered), sum(msg_failed_sent), sum(msg_failed_unsent), sum(msg_expired),
       sum(msg_cancelled), sum(opted_out)
FROM analytics_cells WHERE cube = 0
GROUP BY d1, d2, d3, group_id, date_trunc('month', day::timestamp)::date;

INSERT INTO analytics_scores (cube, d1, d2, d3, group_id, day, question, respondents, total,
                              top_box)
SELECT 9, d1, d2, d3, group_id, date_trunc('month', day::timestamp)::date, question,
       sum(respondents), sum(total), sum(top_box)
FROM analytics_scores WHERE cube = 0
GROUP BY d1, d2, d3, group_id, date_trunc('month', day::timestamp)::date, question;

-- The days at either end of a period are read from cube 0 by day: its key leads with the cube's
-- dimensions and the group, so without these a range of days read the whole partition (732
-- cells and 3,660 score rows for a year), twice when a period has days at both ends. Index-only
-- (what the tiles sum is included); on cube 0 alone, where the tiles read.
CREATE INDEX analytics_cells_0_day ON analytics_cells_0 (day)
  INCLUDE (group_id, surveys, msg_unreported, msg_delivered, msg_failed_sent, answered);
CREATE INDEX analytics_scores_0_day ON analytics_scores_0 (day)
  INCLUDE (group_id, question, respondents, total, top_box);

ANALYZE analytics_cells_0;
ANALYZE analytics_scores_0;
ANALYZE analytics_cells_9;
ANALYZE analytics_scores_9;
