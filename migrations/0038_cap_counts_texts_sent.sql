-- The frequency cap ("nobody surveyed too recently", SURVEYD_LAST_SURVEYED in the store) counts
-- only the surveys whose text was sent or may have been. A survey text cancelled or expired
-- before it went (a later event's flag, an opt-out, ops cancelling what waited, an outage past
-- its deadline) never reached the citizen, who must not be denied a survey for it. The outbox
-- gives those two states only when no request of the text can have reached a gateway: one that
-- may have gone (maybe_sent) is held 'in_doubt' instead, and counts, as do every other state
-- (waiting, sending, accepted, delivered, failed...). Fail closed: whatever might have gone out
-- counts.
--
-- surveys.unsent says so, kept by the trigger below as survey texts reach those final states, so
-- that the cap's look-up reads nothing more than the surveys it reads already: no look-up of the
-- outbox per event on the feed's path.
ALTER TABLE surveys ADD COLUMN unsent boolean NOT NULL DEFAULT false;

-- The surveys are found by their key, from an array: whatever plan a connection keeps for the
-- trigger (planned for the size of the first statement that fired it, migration 0027), it is
-- an index look-up per survey, and nothing at all for a statement that settles no text so.
CREATE FUNCTION surveys_unsent_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE surveys SET unsent = true
  WHERE id = ANY (ARRAY(SELECT n.survey_id FROM new_rows n
                        WHERE n.kind = 'survey' AND n.state IN ('cancelled', 'expired')
                          AND NOT n.maybe_sent AND n.gateway_message_id IS NULL))
    AND NOT unsent;
  RETURN NULL;
END $$;
CREATE TRIGGER surveys_unsent_kept AFTER UPDATE ON outbox REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION surveys_unsent_kept();

-- The texts settled so before this release.
UPDATE surveys s SET unsent = true FROM outbox o
WHERE o.survey_id = s.id AND o.kind = 'survey' AND o.state IN ('cancelled', 'expired')
  AND NOT o.maybe_sent AND o.gateway_message_id IS NULL;
