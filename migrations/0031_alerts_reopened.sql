-- A citizen who writes again after their alert was acknowledged or resolved ("he's back") must
-- reach a supervisor as the first text did: the alert opens again, its history says so
-- ('reopened'), and a notice marked as such goes out at once. reopened_round is the round of
-- that notice (the reminders after it count from there; NULL: never reopened).
ALTER TABLE alert_events DROP CONSTRAINT alert_events_action_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_action_check
  CHECK (action IN ('created', 'acknowledged', 'resolved', 'revealed', 'reopened'));
ALTER TABLE alerts ADD COLUMN reopened_at timestamptz;
ALTER TABLE alerts ADD COLUMN reopened_round integer;
