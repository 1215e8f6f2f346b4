-- Synthetic national-scale data for bench/stats.sh (and, small, for the dashboard's browser
-- test): events, surveys, texts and answers for one year, every grouping field filled the way a
-- large force's would be. Deterministic (a hash of the row number, never random()), so two runs
-- load the same data. Run on a freshly migrated, empty database:
--
--   psql -v events=36000000 -v days=365 -v last_day=2026-11-30 [-v npus=200] -f bench/stats_load.sql
--
-- Every sixth event is excluded or ignored; the rest become surveys (events * 5/6). About 88%
-- of texts reach the phone and 38% of those are answered: 30M surveys give 10M responses.
--
-- Held as retention leaves it (migration 0005): no numbers (erased; the statistics never read
-- them) and no raw events (raw_events empty), so that the daemon's retention pass finds nothing to erase or to
-- encrypt while the benchmark runs; the hashes stay.
--
-- Bulk load: triggers off (session_replication_role = replica, so the rollups and foreign keys
-- wait), secondary indexes dropped and built again afterwards, then analytics_rebuild() derives
-- the rollups once, as the triggers would have.
\set ON_ERROR_STOP on
-- How many areas (NPUs, ten beats each), officers, call handlers (15 to a team) and incident
-- types there are: by default in proportion to the volume, as national figures are (36M events:
-- 200 areas, 20,000 officers, 3,000 call handlers), so that a smaller load is a smaller country
-- rather than the same country with fewer surveys each.
\if :{?npus}
\else
  SELECT greatest(4, :events / 180000) AS npus \gset
\endif
SELECT greatest(50, :events / 1800) AS officers, greatest(30, :events / 12000) AS operators \gset
SET client_min_messages = warning;
SET session_replication_role = replica;
SET synchronous_commit = off;

-- r(g, k): a deterministic pseudo-random integer in 0..2^31-1 for row g and stream k.
CREATE FUNCTION pg_temp.r(g bigint, k integer) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS $$ SELECT abs(hashint8(g * 1000 + k)::bigint) $$;

-- The secondary indexes of the bulk tables, kept to be built again after the load.
CREATE TEMP TABLE saved_indexes AS
  SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
  WHERE t.relname IN ('events', 'surveys', 'outbox', 'responses')
    AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
SELECT format('DROP INDEX %s', name) FROM saved_indexes \gexec

\echo loading events
INSERT INTO events (event_id, received_at, source, seq, type, occurred_at, decision,
                    decision_reason, decision_group, decision_trace)
SELECT 'B' || g, t + interval '2 seconds', 'tcp', g,
       CASE WHEN g % 3 = 0 THEN 'resource.departed' ELSE 'call.ended' END, t,
       CASE WHEN g % 6 <> 0 THEN 'survey' WHEN g % 12 = 0 THEN 'ignored' ELSE 'excluded' END,
       CASE WHEN g % 6 <> 0 THEN 'survey' WHEN g % 12 = 0 THEN 'no_group'
            ELSE (ARRAY['exclusion:domestic_abuse', 'exclusion:sexual_offence', 'frequency_cap',
                        'phone_landline', 'under_minimum_age', 'exclusion:sudden_death'])
                 [1 + pg_temp.r(g, 1) % 6] END,
       CASE WHEN g % 12 = 0 THEN NULL WHEN g % 3 = 0 THEN 'attendance' ELSE 'force_contact' END,
       CASE WHEN g % 6 <> 0 AND pg_temp.r(g, 2) % 10 = 0 THEN '["quiet_hours","survey"]'::jsonb
            ELSE '["survey"]'::jsonb END
FROM generate_series(1, :events) AS g
-- Spread evenly over the period, in event order (ids grow with time, as they do live).
CROSS JOIN LATERAL (SELECT (:'last_day'::date + 1 - :days)::timestamp AT TIME ZONE 'Europe/London'
                           + ((g - 1)::float8 / :events * :days * 86400 + pg_temp.r(g, 0) % 600)
                             * interval '1 second' AS t) AS at;

\echo loading surveys
INSERT INTO surveys (id, event_id, group_id, language, phone_erased_at, phone_hash, event_type,
                     channel, incident_type_code, incident_category, incident_grade, npu, beat,
                     postcode_district, handler_id, handler_team, officer_id, department,
                     caller_role, caller_age_band, caller_gender, caller_ethnicity, contact_at,
                     created_at, send_at, expires_at, closes_at, sms_template, token_nonce,
                     opened_at, responded_at)
SELECT g, 'B' || g, CASE WHEN g % 3 = 0 THEN 'attendance' ELSE 'force_contact' END,
       (ARRAY['en', 'en', 'en', 'en', 'en', 'en', 'en', 'en', 'en', 'en', 'en', 'en', 'en',
              'en', 'en', 'en', 'pl', 'pl', 'cy', 'ur'])[1 + pg_temp.r(g, 3) % 20],
       e.occurred_at + delay + interval '15 days', md5(g::text),
       CASE WHEN g % 3 = 0 THEN 'resource.departed' ELSE 'call.ended' END,
       CASE WHEN g % 3 = 0 THEN NULL
            ELSE (ARRAY['999', '999', '101', '101', '101', 'online', 'live_chat', 'in_person'])
                 [1 + pg_temp.r(g, 4) % 8] END,
       'T' || lpad((pg_temp.r(g, 5) % 300)::text, 3, '0'),
       'C' || (pg_temp.r(g, 5) % 300) / 30,
       'P' || (1 + pg_temp.r(g, 6) % 5),
       'NPU' || lpad((npu)::text, 3, '0'),
       'NPU' || lpad((npu)::text, 3, '0') || '-B' || (pg_temp.r(g, 8) % 10),
       'B' || (pg_temp.r(g, 7) % 99),
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'OP' || lpad(operator::text, 4, '0') END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'TEAM' || lpad((operator / 15)::text, 3, '0') END,
       CASE WHEN g % 3 = 0 THEN 'PC' || lpad(officer::text, 5, '0') END,
       CASE WHEN g % 3 = 0 THEN 'DEPT' || lpad((officer / 200)::text, 3, '0') END,
       'victim',
       (ARRAY['under_18', '18-24', '25-34', '25-34', '35-44', '35-44', '45-54', '45-54', '55-64',
              '65-74', '75+', NULL])[1 + pg_temp.r(g, 11) % 12],
       (ARRAY['female', 'male', 'female', 'male', NULL])[1 + pg_temp.r(g, 12) % 5],
       (ARRAY['W1', 'W1', 'W1', 'W1', 'W2', 'A1', 'A2', 'B1', 'M1', 'O1', NULL])
         [1 + pg_temp.r(g, 13) % 11],
       e.occurred_at, e.occurred_at + interval '1 minute',
       e.occurred_at + delay, e.occurred_at + delay + interval '1 day',
       e.occurred_at + delay + interval '8 days', 'How did we do? {link}', md5('n' || g),
       CASE WHEN reached AND (answered OR pg_temp.r(g, 15) % 100 < 20)
            THEN e.occurred_at + delay + interval '1 hour' END,
       CASE WHEN answered THEN e.occurred_at + delay + interval '2 hours' END
FROM generate_series(1, :events) AS g
JOIN events e ON e.event_id = 'B' || g
CROSS JOIN LATERAL (SELECT pg_temp.r(g, 7) % :npus AS npu, pg_temp.r(g, 9) % :operators AS operator,
                           pg_temp.r(g, 10) % :officers AS officer,
                           (ARRAY[0, 0, 0, 0, 0, 0, 1, 1, 2, 3])[1 + pg_temp.r(g, 14) % 10]
                             * interval '1 day' + interval '30 minutes' AS delay,
                           pg_temp.r(g, 16) % 100 AS fate) AS f
CROSS JOIN LATERAL (SELECT f.fate < 93 AS handed, f.fate < 88 AS reached) AS m
CROSS JOIN LATERAL (SELECT m.reached AND pg_temp.r(g, 17) % 1000 < 379 AS answered) AS a
WHERE g % 6 <> 0;

\echo loading survey links
-- Texts handed to the gateway have a link (fate as below).
INSERT INTO survey_links (token_hash, survey_id)
SELECT md5('t' || s.id), s.id FROM surveys s WHERE pg_temp.r(s.id, 16) % 100 < 93;

\echo loading outbox
-- fate (0..99): delivered < 80, sent without a report < 88, reported failed < 93, refused < 96,
-- expired unsent < 98, cancelled.
INSERT INTO outbox (survey_id, client_ref, state, attempts, next_attempt_at, gateway,
                    gateway_message_id, last_error, updated_at, cancel_reason)
SELECT s.id, 'svy-' || s.id,
       CASE WHEN fate < 80 THEN 'delivered' WHEN fate < 88 THEN 'sent' WHEN fate < 96 THEN 'failed'
            WHEN fate < 98 THEN 'expired' ELSE 'cancelled' END,
       CASE WHEN fate < 96 THEN 1 ELSE 0 END, s.send_at,
       CASE WHEN fate < 96 THEN 'wmnow' END,
       CASE WHEN fate < 93 THEN 'wm-' || s.id END,
       CASE WHEN fate >= 88 AND fate < 96 THEN 'undeliverable' END,
       s.send_at + interval '5 minutes',
       CASE WHEN fate >= 98 THEN (ARRAY['opted_out', 'exclusion:domestic_abuse'])[1 + s.id % 2] END
FROM surveys s CROSS JOIN LATERAL (SELECT pg_temp.r(s.id, 16) % 100 AS fate) AS f;

\echo loading responses
INSERT INTO responses (survey_id, q1, q2, q3, q4, q5, comment, comment_masked, language,
                       submitted_at)
SELECT s.id, q.q1, q.q2, q.q3, q.q4, q.q5, c.comment, surveyd_mask_contact_details(c.comment),
       s.language, s.responded_at
FROM surveys s
CROSS JOIN LATERAL (SELECT pg_temp.r(s.id, 22) AS h) AS seed
-- Mostly 8-10, some blanks, each question a little different.
CROSS JOIN LATERAL (SELECT
  (ARRAY[0, 2, 4, 5, 6, 7, 7, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 10, NULL])
    [1 + (seed.h / 7) % 20]::smallint AS q1,
  (ARRAY[1, 3, 5, 6, 6, 7, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 10, 10, NULL])
    [1 + (seed.h / 149) % 20]::smallint AS q2,
  (ARRAY[2, 5, 6, 7, 8, 8, 9, 9, 10, 10])[1 + (seed.h / 3001) % 10]::smallint AS q3,
  (ARRAY[0, 3, 5, 7, 8, 8, 9, 10, 10, NULL])[1 + (seed.h / 30011) % 10]::smallint AS q4,
  (ARRAY[1, 4, 6, 7, 8, 9, 9, 10, 10, 10])[1 + (seed.h / 300007) % 10]::smallint AS q5) AS q
CROSS JOIN LATERAL (SELECT CASE WHEN pg_temp.r(s.id, 20) % 5 <> 0 THEN ''
  ELSE (ARRAY['The officer was kind and kept me informed.',
              'I waited a long time for anyone to call back.',
              'Nobody told me what happens next. Ring me on 07700 900' ||
                lpad((s.id % 1000)::text, 3, '0'),
              'Quick and polite, thank you.',
              'Still waiting for an update, email me at victim' || s.id || '@example.com',
              'The call handler understood straight away.'])
       [1 + pg_temp.r(s.id, 21) % 6] END AS comment) AS c
WHERE s.responded_at IS NOT NULL;

\echo building indexes
SELECT definition FROM saved_indexes \gexec
SELECT setval(pg_get_serial_sequence('surveys', 'id'), (SELECT max(id) FROM surveys));
RESET session_replication_role;
VACUUM ANALYZE events;
VACUUM ANALYZE surveys;
VACUUM ANALYZE outbox;
VACUUM ANALYZE responses;

\echo deriving the rollups
SELECT analytics_rebuild(now() - interval '5 minutes');
VACUUM ANALYZE analytics_cells;
VACUUM ANALYZE analytics_scores;
VACUUM ANALYZE analytics_events;
VACUUM ANALYZE analytics_cancellations;
