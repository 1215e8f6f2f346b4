-- What a citizen writes on the page of a survey that closed or was answered already is kept as a
-- text back to the survey is (never as an answer): a row of inbound_messages with gateway
-- 'survey_link', the survey's number hash (if it still has one), disposition 'reply', and the
-- alerts it raises. A survey's texts are looked up by the survey: each such text is compared with
-- those kept before (a form sent twice is kept once), and an alert's view shows them.
CREATE INDEX inbound_messages_survey ON inbound_messages (survey_id) WHERE survey_id IS NOT NULL;
