-- The re-key walk reads only what it may have to re-key (issue 11: the hour's soak).
--
-- Every retention pass looks for survey numbers and raw events to seal again under the active
-- key. It walked
-- every survey still holding a number, in id order, to find those sealed under another key or
-- held in clear (from before 0005): once a rotation is done that is none of them, yet the walk
-- read them all, every pass. In the hour at 1,000 events/s its statement ran into the
-- statement timeout at 700,000 surveys, and a national week holds far more. The key a number is
-- sealed under is the second field of phone_enc ('v1:<key id>:...'; key ids hold no colon):
-- indexed with the id, the walk reads the ranges of the other keys only, and the numbers in
-- clear have an index of their own (empty once they are sealed). The same for raw events, kept
-- sealed for retention.raw_days (a month of events, where the walk read them all each hour; a
-- raw event in clear from before 0005 has some other second field, and is walked with the other
-- keys'). A hash key rotation still looks at every number: each hash has to be made again.
CREATE INDEX surveys_phone_key ON surveys (split_part(phone_enc, ':', 2), id)
  WHERE phone_enc IS NOT NULL;
CREATE INDEX surveys_phone_clear ON surveys (id) WHERE phone_e164 IS NOT NULL;
CREATE INDEX events_raw_key ON events (split_part(raw, ':', 2), event_id) WHERE raw IS NOT NULL;
