-- Retention finds finished surveys' numbers through indexes, one reason at a time.
--
-- A survey's number is erased once the survey is finished and the grace period has passed
-- (docs/data-protection.md); it is finished when answered, when its text will never be
-- delivered, or when it closes. Until now one statement took the earliest of those three times
-- for every survey still holding a number, which no index can give: it read every such survey on
-- every batch (318,000 of them half an hour into the soak at 1,000 events a second), ran past
-- the statement timeout, and numbers stayed past their time. Now each reason has its own walk:
--
-- * answered: the surveys holding a number, by responded_at (below);
-- * closed: the same, by closes_at (surveys_phone_held, migration 0005);
-- * the text will never be delivered: the outbox's survey texts in those states, by the time
--   they got there, in (updated_at, id) order from where the previous pass stopped
--   (failed_texts_through, less an hour for instances' clocks), so that old rows are not read
--   again. A survey missed there (another text of its own was still queued) is still erased
--   when it closes.
CREATE INDEX surveys_answered_held ON surveys (responded_at)
  WHERE responded_at IS NOT NULL AND (phone_enc IS NOT NULL OR phone_e164 IS NOT NULL);

CREATE INDEX outbox_survey_text_undelivered ON outbox (updated_at, id) INCLUDE (survey_id)
  WHERE kind = 'survey'
    AND state IN ('failed', 'undeliverable', 'delivery_expired', 'expired', 'cancelled');

-- How far the last pass walked the texts that will never be delivered (its cutoff); NULL for a
-- re-keying alone.
ALTER TABLE retention_runs ADD COLUMN failed_texts_through timestamptz;
