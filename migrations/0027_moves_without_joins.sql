-- The rollup triggers that compare a statement's rows before and after no longer join the two
-- transition tables: a large update could take minutes in them.
--
-- analytics_outbox_moved() and analytics_responses_updated() paired each old row with its new
-- one by a join of old_rows and new_rows. A trigger function's statements are planned once per
-- connection, for the sizes of the first statement that fires them, and the plan is kept: on a
-- pooled connection that had first moved a text or two (a delivery report, a reply), the join
-- is a nested loop, every old row against every new one. A later statement that moves many rows
-- at once then compares them all pairwise. Measured on the dispatch benchmark's database after
-- seven one-row updates on the same connection: 20,000 texts moved in one statement took 48 s,
-- against 0.24 s on a fresh connection. Statements of that size are the ones that matter most:
-- the release of an ops hold cancels every text waiting, and ExpireOverdue after an outage
-- expires every text past its deadline, each in one statement.
--
-- Now each side is read once and the rows are added up by their key, in time linear in the
-- rows whatever the plan.

-- A text's move between buckets: its old bucket and its new one, by id. The cancellations are
-- counted as rows cancelled after the statement less rows cancelled before it, which is what
-- analytics_rebuild() counts (the same as before for every statement but one that changes a
-- cancelled text's reason, whose count now moves with it).
CREATE OR REPLACE FUNCTION analytics_outbox_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_cell_queue (delta)
  SELECT analytics_move_of(m.survey_id, m.was, m.now)
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

-- Answers changed after the fact (a reply by SMS completing a response; retention blanking the
-- comments, which changes no score and queues nothing): old out, new in, for each survey whose
-- scores changed.
CREATE OR REPLACE FUNCTION analytics_responses_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO analytics_score_queue (survey_id, direction, q1, q2, q3, q4, q5)
  SELECT m.survey_id, c.direction, c.q1, c.q2, c.q3, c.q4, c.q5
  FROM (SELECT b.survey_id,
               max(b.q1) FILTER (WHERE b.side < 0) AS o1, max(b.q2) FILTER (WHERE b.side < 0) AS o2,
               max(b.q3) FILTER (WHERE b.side < 0) AS o3, max(b.q4) FILTER (WHERE b.side < 0) AS o4,
               max(b.q5) FILTER (WHERE b.side < 0) AS o5,
               max(b.q1) FILTER (WHERE b.side > 0) AS n1, max(b.q2) FILTER (WHERE b.side > 0) AS n2,
               max(b.q3) FILTER (WHERE b.side > 0) AS n3, max(b.q4) FILTER (WHERE b.side > 0) AS n4,
               max(b.q5) FILTER (WHERE b.side > 0) AS n5
        FROM (SELECT o.survey_id, -1 AS side, o.q1, o.q2, o.q3, o.q4, o.q5 FROM old_rows o
              UNION ALL
              SELECT n.survey_id, 1, n.q1, n.q2, n.q3, n.q4, n.q5 FROM new_rows n) AS b
        GROUP BY b.survey_id) AS m
  CROSS JOIN LATERAL (VALUES (-1, m.o1, m.o2, m.o3, m.o4, m.o5),
                             (1, m.n1, m.n2, m.n3, m.n4, m.n5))
    AS c(direction, q1, q2, q3, q4, q5)
  WHERE (m.o1, m.o2, m.o3, m.o4, m.o5) IS DISTINCT FROM (m.n1, m.n2, m.n3, m.n4, m.n5);
  RETURN NULL;
END $$;
