-- Staff notes on an alert (why it was resolved, why its number was revealed) are free text about
-- the citizen: blanked (NULL) after retention.comment_days from when each was written, as the
-- comment they are about is, and by `surveyd erase`. Each pass reads only the notes still held.
CREATE INDEX alerts_status_note_held ON alerts (status_at) WHERE status_note IS NOT NULL;
CREATE INDEX alert_events_note_held ON alert_events (at) WHERE note IS NOT NULL;
