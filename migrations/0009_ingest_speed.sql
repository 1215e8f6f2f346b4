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
