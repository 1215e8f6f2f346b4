-- A citizen's text that answers nothing is answered once per survey, so that the citizen does
-- not think it counted (replies in docs/gateways.md):
--   outbox.kind 'closed'      to a text after a two-way conversation ended (finished or ran
--                             out): the survey has closed, thank you, 101 and 999
--                             (two_way.texts.<language>.closed in the rules);
--   outbox.kind 'link_reply'  to a text back to a link survey: it takes no answer by text, use
--                             the link, STOP opts out (replies.link_reply).
-- Like a confirmation or help, each answers the citizen's own text: it goes at once and is not
-- decided again. Once per survey: the outbox is where that is looked up (outbox_survey).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
  CHECK (kind IN ('survey', 'question', 'confirmation', 'help', 'closed', 'link_reply'));
