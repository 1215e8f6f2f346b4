-- Events stamped later than they arrived (a mistyped year in the command-and-control log, a clock
-- ahead), for retention: such an event kept its number's hash phone_hash_days after the date it
-- gives, until year 10000 for one dated 9999 (found by a review), where the promise is
-- phone_hash_days after the contact. Retention now drops it that long after it arrived
-- (PgStore::RunRetention, drop_event_hashes_stamped_ahead). Few events are: the index holds only
-- them, so the feed's inserts pay a comparison, not an index entry.
CREATE INDEX events_stamped_ahead ON events (received_at)
  WHERE phone_hash IS NOT NULL AND occurred_at > received_at;
