-- A rejected line the TCP feed sends again (the overlap a feed may replay after a reconnect, or
-- a batch resent after a crash between its parts and its cursor) is known by its seq and counted
-- as replayed, not stored twice. Lines at or below the cursor are no longer dropped unread by the
-- consumer: a feed whose numbering went wrong could send new events there.
CREATE INDEX rejected_events_tcp_seq ON rejected_events (seq)
  WHERE seq IS NOT NULL AND source = 'tcp';
