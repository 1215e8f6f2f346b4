-- A citizen's contact details in a comment reach nobody but through the audited reveal.
--
-- The alerts API showed a supervisor the comment as written, with any number or address the
-- citizen typed in it, where every other view shows it masked and only safeguarding staff may
-- have a number, for a recorded reason. It now shows the masked comment; the reveal gives the
-- comment as written with the number. The praise digests masked comments again in the service,
-- by rules of their own; they now read the masked comment too, so that one function decides.
--
-- The function also masks addresses written with spaces ("jane @ example . com") or in words
-- ("jane at example dot com"). A sentence has "at" often and " dot " almost never: the word form
-- needs a " dot " after the host. The comments stored already are masked again where it matters.
--
-- The function of 0004 keeps its numbers and plain addresses, under a name of its own; the new
-- forms are masked first.
ALTER FUNCTION surveyd_mask_contact_details(text) RENAME TO surveyd_mask_numbers_and_addresses;
CREATE FUNCTION surveyd_mask_contact_details(text_in text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT surveyd_mask_numbers_and_addresses(
    regexp_replace(
      regexp_replace(text_in, '[[:alnum:]._%+''-]+\s*@\s*[[:alnum:]-]+(\s*\.\s*[[:alnum:]-]+)+',
                     '[email removed]', 'g'),
      '[[:alnum:]._%+-]+(\s+dot\s+[[:alnum:]_%+-]+)*\s+at\s+[[:alnum:]-]+(\s+dot\s+[[:alnum:]-]+)+',
      '[email removed]', 'gi'))
$$;

-- Only the comments the new forms can change: one scan, and few rows written.
UPDATE responses SET comment_masked = surveyd_mask_contact_details(comment)
WHERE comment ~ '\s@|@\s' OR comment ~* '\sat\s.*\sdot\s';

-- Which record a call opened (an alert's id, a survey's, a token's), beside the route it took:
-- who read whose comment, and revealed whose number, is on the record.
ALTER TABLE api_audit ADD COLUMN subject text;
