-- GET /api/v1/responses and /api/v1/comments list answers newest first: by the answer's time,
-- then by survey id (answers given in the same microsecond), and a page's cursor carries both.
-- This index gives that order walked backwards, and the cursor's row comparison
-- (submitted_at, survey_id) < (t, id) is where the walk starts: each page reads its own rows and
-- the next, not every answer after the cursor sorted again. Before it, the pages came in survey
-- id order, from the primary key.
CREATE INDEX responses_newest_first ON responses (submitted_at, survey_id);
