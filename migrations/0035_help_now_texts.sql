-- A citizen's text that calls for help now (it raises a safeguarding alert, as the survey page
-- decides for its help box) is answered at once with where to get help (replies.help_now in the
-- rules file, docs/gateways.md):
--   outbox.kind 'help'            that answer; like a confirmation it answers the citizen's own
--                                 text, so it is not decided again nor held by an opt-out;
--   conversations.state 'help'    a two-way conversation that ended on such a text: nothing more
--                                 is asked;
--   inbound_messages.helped       the text was answered so: a number is sent help at most once
--                                 per replies.help_now.at_most_every (looked up by number).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('survey', 'question', 'confirmation', 'help'));

ALTER TABLE conversations DROP CONSTRAINT conversations_state_check;
ALTER TABLE conversations ADD CONSTRAINT conversations_state_check
  CHECK (state IN ('open', 'finished', 'expired', 'opted_out', 'help'));

ALTER TABLE inbound_messages ADD COLUMN helped boolean NOT NULL DEFAULT false;
CREATE INDEX inbound_messages_helped ON inbound_messages (phone_hash, stored_at) WHERE helped;
