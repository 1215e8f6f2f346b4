-- The fold values each survey's dimensions once, not once per cube (issue 7: the dispatch
-- benchmark's statement table, where the fold led; issue 11: the soak's, where it came third).
--
-- analytics_add() and analytics_add_scores() crossed each survey with the ten cubes and then
-- asked analytics_dim() for each of the three dimensions of each cube, and analytics_period() for
-- its day: thirty searches of a CASE by name and ten time-zone conversions per survey, most of
-- them for dimensions another cube had already valued. Now each survey's dimensions are valued
-- once into an array (analytics_dim_values(), still through analytics_dim(), the one place that
-- maps a name to a column) and each cube picks its three by position (analytics_cube_dims).

-- Every dimension a cube may hold, in the order of analytics_dim_values().
CREATE FUNCTION analytics_dim_names() RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY['incident_type', 'category', 'grade', 'npu', 'beat', 'channel', 'team', 'operator',
                 'officer', 'department', 'gender', 'age_band', 'ethnicity', 'language',
                 'days_to_survey', 'hour'] $$;

-- A survey's value of each dimension, in the order of analytics_dim_names(). Written out from
-- that list as ARRAY[analytics_dim('incident_type', s), analytics_dim('category', s), ...], which
-- the planner reduces to the columns themselves (analytics_dim() is a CASE on its name, here a
-- constant): it costs what naming the columns would, and analytics_dim() stays the one place
-- that maps a name to a column. (A subquery over the list instead was slower than the fold it
-- replaced: a function call per survey that the planner cannot inline.)
DO $$
BEGIN
  EXECUTE format(
    'CREATE FUNCTION analytics_dim_values(s surveys) RETURNS text[] '
    'LANGUAGE sql IMMUTABLE PARALLEL SAFE AS %L',
    'SELECT ARRAY[' || (SELECT string_agg(format('analytics_dim(%L, s)', d.name), ', '
                                           ORDER BY d.at)
                        FROM unnest(analytics_dim_names()) WITH ORDINALITY AS d (name, at))
      || ']');
END $$;

-- The day a cell of a cube is kept under, from the local day of contact: that day, or the first
-- of its month in a by-month cube. analytics_period() (0007) now goes through it, so the rule is
-- written once for the fold, which has each survey's day already, and for the rebuild.
CREATE FUNCTION analytics_period_of_day(by_month boolean, day date) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN by_month THEN date_trunc('month', day::timestamp)::date ELSE day END $$;
CREATE OR REPLACE FUNCTION analytics_period(by_month boolean, t timestamptz) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT analytics_period_of_day(by_month, analytics_day(t)) $$;

-- Each cube with the positions of its dimensions in analytics_dim_values() (NULL where it holds
-- fewer than three: a NULL subscript gives NULL, as analytics_dim() of no name did).
CREATE VIEW analytics_cube_dims AS
  SELECT id, by_month, array_position(analytics_dim_names(), dims[1]) AS at1,
         array_position(analytics_dim_names(), dims[2]) AS at2,
         array_position(analytics_dim_names(), dims[3]) AS at3
  FROM analytics_cubes;

-- A cube naming a dimension the list does not hold would fill its cells with NULL unnoticed.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM analytics_cubes k CROSS JOIN LATERAL unnest(k.dims) AS n
             WHERE array_position(analytics_dim_names(), n) IS NULL) THEN
    RAISE EXCEPTION 'analytics_cubes names a dimension analytics_dim_names() does not hold';
  END IF;
END $$;

-- As in 0018, each survey valued once, and each cube's positions found once (MATERIALIZED:
-- otherwise the planner folds them into the cross join and finds them again for every row).
-- Keys are grouped and ordered bytewise, as the cells compare them. A fold of 5,000 changes
-- sorts 50,000 rows: with the default work_mem the sort spilled to disk.
CREATE OR REPLACE FUNCTION analytics_add(deltas analytics_delta[]) RETURNS void
  LANGUAGE plpgsql SET work_mem = '32MB' AS $$
  BEGIN
    WITH v AS MATERIALIZED (
      SELECT s.group_id, analytics_day(s.contact_at) AS day, analytics_dim_values(s) AS dims,
             d.surveys, d.opened, d.answered, d.closed_unanswered, d.msg_waiting,
             d.msg_unreported, d.msg_delivered, d.msg_failed_sent, d.msg_failed_unsent,
             d.msg_expired, d.msg_cancelled, d.opted_out
      FROM (SELECT survey_id, sum(surveys) AS surveys, sum(opened) AS opened,
                   sum(answered) AS answered, sum(closed_unanswered) AS closed_unanswered,
                   sum(msg_waiting) AS msg_waiting, sum(msg_unreported) AS msg_unreported,
                   sum(msg_delivered) AS msg_delivered, sum(msg_failed_sent) AS msg_failed_sent,
                   sum(msg_failed_unsent) AS msg_failed_unsent, sum(msg_expired) AS msg_expired,
                   sum(msg_cancelled) AS msg_cancelled, sum(opted_out) AS opted_out
            FROM unnest(deltas) GROUP BY survey_id) AS d
      JOIN surveys s ON s.id = d.survey_id
      WHERE (d.surveys, d.opened, d.answered, d.closed_unanswered, d.msg_waiting,
             d.msg_unreported, d.msg_delivered, d.msg_failed_sent, d.msg_failed_unsent,
             d.msg_expired, d.msg_cancelled, d.opted_out)
            IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
    k AS MATERIALIZED (SELECT * FROM analytics_cube_dims)
    INSERT INTO analytics_cells AS c (cube, d1, d2, d3, group_id, day, surveys, opened, answered,
      closed_unanswered, msg_waiting, msg_unreported, msg_delivered, msg_failed_sent,
      msg_failed_unsent, msg_expired, msg_cancelled, opted_out)
    SELECT k.id, v.dims[k.at1] COLLATE "C", v.dims[k.at2] COLLATE "C", v.dims[k.at3] COLLATE "C",
           v.group_id,
           analytics_period_of_day(k.by_month, v.day),
           sum(v.surveys), sum(v.opened), sum(v.answered), sum(v.closed_unanswered),
           sum(v.msg_waiting), sum(v.msg_unreported), sum(v.msg_delivered), sum(v.msg_failed_sent),
           sum(v.msg_failed_unsent), sum(v.msg_expired), sum(v.msg_cancelled), sum(v.opted_out)
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
      opted_out = c.opted_out + excluded.opted_out;
  END $$;

-- As in 0007, each answered survey valued once.
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
                                       total, top_box)
    SELECT k.id, v.dims[k.at1] COLLATE "C", v.dims[k.at2] COLLATE "C", v.dims[k.at3] COLLATE "C",
           v.group_id,
           analytics_period_of_day(k.by_month, v.day),
           v.question, direction * count(*), direction * sum(v.score),
           direction * count(*) FILTER (WHERE v.score >= 8)
    FROM v CROSS JOIN k
    GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
    ON CONFLICT (cube, d1, d2, d3, group_id, day, question) DO UPDATE SET
      respondents = c.respondents + excluded.respondents, total = c.total + excluded.total,
      top_box = c.top_box + excluded.top_box;
  END $$;
