-- The fold adds up each survey's changes before it adds them to the cubes (issue 11: the soak's
-- statement table, where analytics_fold() leads).
--
-- analytics_add() joined every queued change to its survey and to each of the ten cubes, then
-- grouped the rows by cell. A fold, four times a second on each instance, often holds several
-- changes of one survey: it was queued, then its text went (waiting -> unreported) a few
-- milliseconds later, then its delivery report came. Each was a row in every cube, ten times
-- over. The changes are now summed per survey first, and a survey whose changes cancel out
-- (queued and cancelled within one fold) adds nothing: on the soak's database a fold of 300
-- changes to 200 surveys took 11-14 ms against 13-17 ms. The cells' totals are the same sums.

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
    FROM (SELECT survey_id, sum(surveys) AS surveys, sum(opened) AS opened,
                 sum(answered) AS answered, sum(closed_unanswered) AS closed_unanswered,
                 sum(msg_waiting) AS msg_waiting, sum(msg_unreported) AS msg_unreported,
                 sum(msg_delivered) AS msg_delivered, sum(msg_failed_sent) AS msg_failed_sent,
                 sum(msg_failed_unsent) AS msg_failed_unsent, sum(msg_expired) AS msg_expired,
                 sum(msg_cancelled) AS msg_cancelled, sum(opted_out) AS opted_out
          FROM unnest(deltas) GROUP BY survey_id) AS d
    JOIN surveys s ON s.id = d.survey_id CROSS JOIN analytics_cubes k
    WHERE (d.surveys, d.opened, d.answered, d.closed_unanswered, d.msg_waiting, d.msg_unreported,
           d.msg_delivered, d.msg_failed_sent, d.msg_failed_unsent, d.msg_expired,
           d.msg_cancelled, d.opted_out) IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
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
