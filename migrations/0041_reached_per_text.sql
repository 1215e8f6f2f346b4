-- Reached is decided per text, and answered means a score given.
--
-- A text counts as reached when it was delivered, taken by the gateway with no report either way,
-- or replied to: a reply shows it reached someone whatever the gateway said (a text reported
-- failed after it arrived, one left in doubt). The rollups kept only the texts by where they
-- stand, so /api/v1/stats worked reached out per cell as max(reached, answered): a day of 15
-- texts, 10 delivered (5 of them answered) and 5 reported failed and answered anyway, read 10
-- reached, 10 answered, 100%, where it is 15 reached and 66.7%. Each cell now also counts the
-- texts replied to that are not reported as reaching anyone (`replied_unreached`), kept by the
-- triggers on both sides: a reply stored (or its scores changed), and a text that moves between
-- buckets after its reply. Reached is msg_unreported + msg_delivered + replied_unreached, on the
-- raw tables `bucket IN ('unreported', 'delivered') OR a reply`.
--
-- And a reply that answers no question ("who is this?" by text, or a page sent with a comment
-- alone) counted as answered: 5 of them raised answered from 18 to 23 and the response rate from
-- 64.3% to 82.1%, while each question's respondents stayed the same. `answered` now counts
-- responses with at least one score (num_nonnulls(q1..q5) > 0), here and on the raw tables; a
-- comment alone still counts as a reply (the text reached someone), is kept, masked and
-- searchable as before, and a survey closed with only a comment counts as closed unanswered.
--
-- A reply and a delivery report can be written at the same moment, each in its own transaction:
-- the reply's trigger reads its text's bucket FOR SHARE, so that a report moving the text waits
-- for the reply's commit (and its trigger then sees the reply), or the reply's trigger waits for
-- the report's commit and reads the bucket it left.

-- Writers wait until this commits: none of their changes is folded by the functions of before.
LOCK TABLE analytics_cells, analytics_scores, analytics_cell_queue, analytics_score_queue
  IN EXCLUSIVE MODE;

ALTER TABLE analytics_cells ADD COLUMN replied_unreached bigint NOT NULL DEFAULT 0;
ALTER TYPE analytics_delta ADD ATTRIBUTE replied_unreached integer;

-- Whether a text of this bucket is reported as reaching someone (with no reply).
CREATE FUNCTION analytics_bucket_reached(bucket text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(bucket IN ('unreported', 'delivered'), false) $$;

-- As in 0004, with the new count (0).
CREATE OR REPLACE FUNCTION analytics_delta_of(survey_id bigint, sign integer,
                                              surveys integer DEFAULT 0, opened integer DEFAULT 0,
                                              answered integer DEFAULT 0,
                                              closed_unanswered integer DEFAULT 0,
                                              bucket text DEFAULT NULL,
                                              opted_out integer DEFAULT 0)
  RETURNS analytics_delta LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ROW(survey_id, sign * surveys, sign * opened, sign * answered,
               sign * closed_unanswered,
               sign * (bucket IS NOT DISTINCT FROM 'waiting')::int,
               sign * (bucket IS NOT DISTINCT FROM 'unreported')::int,
               sign * (bucket IS NOT DISTINCT FROM 'delivered')::int,
               sign * (bucket IS NOT DISTINCT FROM 'failed_sent')::int,
               sign * (bucket IS NOT DISTINCT FROM 'failed_unsent')::int,
               sign * (bucket IS NOT DISTINCT FROM 'expired')::int,
               sign * (bucket IS NOT DISTINCT FROM 'cancelled')::int, sign * opted_out,
               0)::analytics_delta $$;

-- A reply's change to a survey's counts: answered when it gives a score, and replied to though
-- its text (of `bucket`) is not reported as reaching anyone.
CREATE FUNCTION analytics_reply_of(survey_id bigint, sign integer, answered integer,
                                   bucket text)
  RETURNS analytics_delta LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ROW(survey_id, 0, 0, sign * answered, 0, 0, 0, 0, 0, 0, 0, 0, 0,
               sign * (NOT analytics_bucket_reached(bucket))::int)::analytics_delta $$;

-- As in 0008, and a text replied to (`replied`) moving in or out of the buckets that count as
-- reached.
DROP FUNCTION analytics_move_of(bigint, text, text);
CREATE FUNCTION analytics_move_of(survey_id bigint, was text, now text, replied boolean)
  RETURNS analytics_delta LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ROW(survey_id, 0, 0, 0, 0,
               (now IS NOT DISTINCT FROM 'waiting')::int - (was IS NOT DISTINCT FROM 'waiting')::int,
               (now IS NOT DISTINCT FROM 'unreported')::int - (was IS NOT DISTINCT FROM 'unreported')::int,
               (now IS NOT DISTINCT FROM 'delivered')::int - (was IS NOT DISTINCT FROM 'delivered')::int,
               (now IS NOT DISTINCT FROM 'failed_sent')::int - (was IS NOT DISTINCT FROM 'failed_sent')::int,
               (now IS NOT DISTINCT FROM 'failed_unsent')::int - (was IS NOT DISTINCT FROM 'failed_unsent')::int,
               (now IS NOT DISTINCT FROM 'expired')::int - (was IS NOT DISTINCT FROM 'expired')::int,
               (now IS NOT DISTINCT FROM 'cancelled')::int - (was IS NOT DISTINCT FROM 'cancelled')::int, 0,
               CASE WHEN replied THEN (NOT analytics_bucket_reached(now))::int
                                      - (NOT analytics_bucket_reached(was))::int
                    ELSE 0 END)::analytics_delta $$;

-- As in 0027; whether a moved text was replied to is looked up only for the texts that move in
-- or out of the reached buckets (a delivery report after a failure, a failure after a report),
-- not for the many that never reached anyone (a hold released, texts expired after an outage).
CREATE OR REPLACE FUNCTION analytics_outbox_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_move_of(m.survey_id, m.was, m.now,
           analytics_bucket_reached(m.was) <> analytics_bucket_reached(m.now)
           AND EXISTS (SELECT 1 FROM responses r WHERE r.survey_id = m.survey_id))
  FROM (SELECT b.survey_id, max(b.bucket) FILTER (WHERE b.side < 0) AS was,
               max(b.bucket) FILTER (WHERE b.side > 0) AS now
        FROM (SELECT o.id, o.survey_id, -1 AS side,
                     analytics_message_bucket(o.state, o.gateway_message_id IS NOT NULL) AS bucket
              FROM old_rows o WHERE o.kind = 'survey'
              UNION ALL
              SELECT n.id, n.survey_id, 1,
                     analytics_message_bucket(n.state, n.gateway_message_id IS NOT NULL)
              FROM new_rows n WHERE n.kind = 'survey') AS b
        GROUP BY b.id, b.survey_id) AS m
  WHERE m.was IS DISTINCT FROM m.now;
  INSERT INTO analytics_cancellations AS a (day, group_id, reason, messages)
  SELECT analytics_day(s.contact_at), s.group_id, c.reason, sum(c.side)
  FROM (SELECT o.survey_id, analytics_cancel_reason(o::outbox) AS reason, -1 AS side
        FROM old_rows o WHERE o.kind = 'survey' AND o.state = 'cancelled'
        UNION ALL
        SELECT n.survey_id, analytics_cancel_reason(n::outbox), 1
        FROM new_rows n WHERE n.kind = 'survey' AND n.state = 'cancelled') AS c
  JOIN surveys s ON s.id = c.survey_id
  GROUP BY 1, 2, 3 HAVING sum(c.side) <> 0 ORDER BY 1, 2, 3
  ON CONFLICT (day, group_id, reason) DO UPDATE SET messages = a.messages + excluded.messages;
  RETURN NULL;
END $$;

-- As in 0016: answered only with a score, and replied to though not reported reached.
CREATE OR REPLACE FUNCTION analytics_responses_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_reply_of(n.survey_id, 1, (num_nonnulls(n.q1, n.q2, n.q3, n.q4, n.q5) > 0)::int,
           (SELECT analytics_message_bucket(o.state, o.gateway_message_id IS NOT NULL)
            FROM outbox o WHERE o.survey_id = n.survey_id AND o.kind = 'survey' FOR SHARE))
  FROM new_rows n;
  INSERT INTO analytics_score_queue (survey_id, direction, q1, q2, q3, q4, q5)
  SELECT n.survey_id, 1, n.q1, n.q2, n.q3, n.q4, n.q5 FROM new_rows n;
  RETURN NULL;
END $$;

-- As in 0027, and a response that comes to give a score (a comment first, a score by a later
-- text) or comes to give none (its one score taken back) is answered, or no longer.
CREATE OR REPLACE FUNCTION analytics_responses_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH m AS (
    SELECT b.survey_id,
           max(b.q1) FILTER (WHERE b.side < 0) AS o1, max(b.q2) FILTER (WHERE b.side < 0) AS o2,
           max(b.q3) FILTER (WHERE b.side < 0) AS o3, max(b.q4) FILTER (WHERE b.side < 0) AS o4,
           max(b.q5) FILTER (WHERE b.side < 0) AS o5,
           max(b.q1) FILTER (WHERE b.side > 0) AS n1, max(b.q2) FILTER (WHERE b.side > 0) AS n2,
           max(b.q3) FILTER (WHERE b.side > 0) AS n3, max(b.q4) FILTER (WHERE b.side > 0) AS n4,
           max(b.q5) FILTER (WHERE b.side > 0) AS n5
    FROM (SELECT o.survey_id, -1 AS side, o.q1, o.q2, o.q3, o.q4, o.q5 FROM old_rows o
          UNION ALL
          SELECT n.survey_id, 1, n.q1, n.q2, n.q3, n.q4, n.q5 FROM new_rows n) AS b
    GROUP BY b.survey_id),
  changed AS MATERIALIZED (
    SELECT * FROM m
    WHERE (m.o1, m.o2, m.o3, m.o4, m.o5) IS DISTINCT FROM (m.n1, m.n2, m.n3, m.n4, m.n5)),
  scores AS (
    INSERT INTO analytics_score_queue (survey_id, direction, q1, q2, q3, q4, q5)
    SELECT c.survey_id, v.direction, v.q1, v.q2, v.q3, v.q4, v.q5
    FROM changed c
    CROSS JOIN LATERAL (VALUES (-1, c.o1, c.o2, c.o3, c.o4, c.o5),
                               (1, c.n1, c.n2, c.n3, c.n4, c.n5))
      AS v(direction, q1, q2, q3, q4, q5))
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_delta_of(c.survey_id, 1, answered => a.now - a.was)
  FROM changed c
  CROSS JOIN LATERAL (SELECT (num_nonnulls(c.o1, c.o2, c.o3, c.o4, c.o5) > 0)::int AS was,
                             (num_nonnulls(c.n1, c.n2, c.n3, c.n4, c.n5) > 0)::int AS now) AS a
  WHERE a.was <> a.now;
  RETURN NULL;
END $$;

-- As in 0016: a survey closes unanswered when no reply to it gave a score.
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
    AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.survey_id = s.id
                    AND num_nonnulls(r.q1, r.q2, r.q3, r.q4, r.q5) > 0);
  GET DIAGNOSTICS closed = ROW_COUNT;
  UPDATE analytics_watermarks SET at = upto WHERE name = 'closed';
  RETURN closed;
END $$;

-- As in 0024, with the new count.
CREATE OR REPLACE FUNCTION analytics_add(deltas analytics_delta[]) RETURNS void
  LANGUAGE plpgsql SET work_mem = '32MB' AS $$
  BEGIN
    WITH v AS MATERIALIZED (
      SELECT s.group_id, analytics_day(s.contact_at) AS day, analytics_dim_values(s) AS dims,
             d.surveys, d.opened, d.answered, d.closed_unanswered, d.msg_waiting,
             d.msg_unreported, d.msg_delivered, d.msg_failed_sent, d.msg_failed_unsent,
             d.msg_expired, d.msg_cancelled, d.opted_out, d.replied_unreached
      FROM (SELECT survey_id, sum(surveys) AS surveys, sum(opened) AS opened,
                   sum(answered) AS answered, sum(closed_unanswered) AS closed_unanswered,
                   sum(msg_waiting) AS msg_waiting, sum(msg_unreported) AS msg_unreported,
                   sum(msg_delivered) AS msg_delivered, sum(msg_failed_sent) AS msg_failed_sent,
                   sum(msg_failed_unsent) AS msg_failed_unsent, sum(msg_expired) AS msg_expired,
                   sum(msg_cancelled) AS msg_cancelled, sum(opted_out) AS opted_out,
                   COALESCE(sum(replied_unreached), 0) AS replied_unreached
            FROM unnest(deltas) GROUP BY survey_id) AS d
      JOIN surveys s ON s.id = d.survey_id
      WHERE (d.surveys, d.opened, d.answered, d.closed_unanswered, d.msg_waiting,
             d.msg_unreported, d.msg_delivered, d.msg_failed_sent, d.msg_failed_unsent,
             d.msg_expired, d.msg_cancelled, d.opted_out, d.replied_unreached)
            IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    k AS MATERIALIZED (SELECT * FROM analytics_cube_dims)
    INSERT INTO analytics_cells AS c (cube, d1, d2, d3, group_id, day, surveys, opened, answered,
      closed_unanswered, msg_waiting, msg_unreported, msg_delivered, msg_failed_sent,
      msg_failed_unsent, msg_expired, msg_cancelled, opted_out, replied_unreached)
    SELECT k.id, v.dims[k.at1] COLLATE "C", v.dims[k.at2] COLLATE "C", v.dims[k.at3] COLLATE "C",
           v.group_id,
           analytics_period_of_day(k.by_month, v.day),
           sum(v.surveys), sum(v.opened), sum(v.answered), sum(v.closed_unanswered),
           sum(v.msg_waiting), sum(v.msg_unreported), sum(v.msg_delivered), sum(v.msg_failed_sent),
           sum(v.msg_failed_unsent), sum(v.msg_expired), sum(v.msg_cancelled), sum(v.opted_out),
           sum(v.replied_unreached)
    FROM v CROSS JOIN k
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
      opted_out = c.opted_out + excluded.opted_out,
      replied_unreached = c.replied_unreached + excluded.replied_unreached;
  END $$;

-- As in 0032, with answered counting scores, the new count, and the key indexes including it.
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
    msg_failed_unsent, msg_expired, msg_cancelled, opted_out, replied_unreached)
  SELECT k.id, analytics_dim(k.dims[1], s), analytics_dim(k.dims[2], s),
         analytics_dim(k.dims[3], s), s.group_id, analytics_period(k.by_month, s.contact_at),
         count(*), count(s.opened_at), count(*) FILTER (WHERE r.scored),
         count(*) FILTER (WHERE r.scored IS NOT TRUE AND s.closes_at <= closed_upto
                          AND m.bucket IN ('delivered', 'unreported')),
         count(*) FILTER (WHERE m.bucket = 'waiting'),
         count(*) FILTER (WHERE m.bucket = 'unreported'),
         count(*) FILTER (WHERE m.bucket = 'delivered'),
         count(*) FILTER (WHERE m.bucket = 'failed_sent'),
         count(*) FILTER (WHERE m.bucket = 'failed_unsent'),
         count(*) FILTER (WHERE m.bucket = 'expired'),
         count(*) FILTER (WHERE m.bucket = 'cancelled'),
         COALESCE(sum(opt.n), 0),
         count(*) FILTER (WHERE r.survey_id IS NOT NULL AND NOT analytics_bucket_reached(m.bucket))
  FROM surveys s
  LEFT JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey'
  LEFT JOIN (SELECT survey_id, num_nonnulls(q1, q2, q3, q4, q5) > 0 AS scored FROM responses) AS r
    ON r.survey_id = s.id
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
    INCLUDE (surveys, msg_unreported, msg_delivered, msg_failed_sent, answered, replied_unreached)
    NULLS NOT DISTINCT;
  CREATE UNIQUE INDEX analytics_scores_key
    ON analytics_scores (cube, d1, d2, d3, group_id, day, question)
    INCLUDE (respondents, total, top_box, squares) NULLS NOT DISTINCT;

  INSERT INTO analytics_watermarks (name, at) VALUES ('closed', closed_upto)
  ON CONFLICT (name) DO UPDATE SET at = excluded.at;
END $$;

-- The days at either end of a period (0007), with the new count.
DROP INDEX analytics_cells_0_day;
CREATE INDEX analytics_cells_0_day ON analytics_cells_0 (day)
  INCLUDE (group_id, surveys, msg_unreported, msg_delivered, msg_failed_sent, answered,
           replied_unreached);

-- The rollups derived again from the raw tables as they stand, up to the same watermark: the
-- replies to texts not reported as reaching anyone counted, and answered counting scores. Minutes
-- at national scale, under the locks above: once, when this version first starts.
SELECT analytics_rebuild((SELECT at FROM analytics_watermarks WHERE name = 'closed'));
