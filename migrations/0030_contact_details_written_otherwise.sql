-- More ways a citizen writes a number or an address in a comment, masked too (issue 8: no
-- endpoint ever returns a phone number):
--   a number across a line break ("07700" then "900123": two-way SMS replies are joined by one),
--   with dashes other than the hyphen (en dash, non-breaking hyphen, minus sign), with thin or
--   narrow no-break spaces, or in full-width digits ("０７７００ ９００１２３");
--   an address half in words: "jane at gmail.com", "jane@gmail dot com".
-- The number runs are found as in 0004 with these separators and digits added; nothing else in
-- the comment is changed.
CREATE OR REPLACE FUNCTION surveyd_mask_numbers_and_addresses(text_in text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  t text := text_in;
  run_pattern constant text :=
    '[+(]?[0-9０-９][-0-9０-９ ()./\u00a0\u2009\u202f\u2010-\u2015\u2212\r\n\t]*[0-9０-９]';
  out text := '';
  pos integer := 1;
  found integer;
  candidate text;
  digits integer;
BEGIN
  IF t IS NULL OR t = '' THEN
    RETURN t;
  END IF;
  t := regexp_replace(t, '[[:alnum:]._%+''-]+@[[:alnum:]-]+(\.[[:alnum:]-]+)+', '[email removed]',
                      'g');
  t := regexp_replace(t, '[[:alnum:]._%+-]+(\s+dot\s+[[:alnum:]_%+-]+)*\s*[[(]\s*at\s*[])]\s*'
                         '[[:alnum:]-]+'
                         '(\s*([.]|[[(]\s*dot\s*[])])\s*[[:alnum:]-]+)+', '[email removed]', 'gi');
  LOOP
    found := regexp_instr(t, run_pattern, pos);
    EXIT WHEN found = 0;
    candidate := regexp_substr(t, run_pattern, pos);
    digits := length(regexp_replace(candidate, '[^0-9０-９]', '', 'g'));
    out := out || substr(t, pos, found - pos);
    IF digits >= 10 OR (left(candidate, 1) = '+' AND digits >= 7) THEN
      out := out || '[phone removed]';
    ELSE
      out := out || candidate;
    END IF;
    pos := found + length(candidate);
  END LOOP;
  RETURN out || substr(t, pos);
END $$;

-- The forms of 0028, then the half-worded ones: "@" with the host's dots in words, and "at" in
-- words before a host written with its dots and a top-level domain of letters (so that "at 10.30"
-- is a time, not an address).
CREATE OR REPLACE FUNCTION surveyd_mask_contact_details(text_in text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT surveyd_mask_numbers_and_addresses(
    regexp_replace(
      regexp_replace(
        regexp_replace(text_in,
                       '[[:alnum:]._%+''-]+\s*@\s*[[:alnum:]-]+((\s*\.\s*|\s+dot\s+)[[:alnum:]-]+)+',
                       '[email removed]', 'gi'),
        '[[:alnum:]._%+-]+(\s+dot\s+[[:alnum:]_%+-]+)*\s+at\s+[[:alnum:]-]+(\s+dot\s+[[:alnum:]-]+)+',
        '[email removed]', 'gi'),
      '[[:alnum:]._%+-]+\s+at\s+[[:alnum:]-]+(\.[[:alnum:]-]+)*\.[[:alpha:]]{2,}\M',
      '[email removed]', 'gi'))
$$;

-- Only the comments the new forms can change.
UPDATE responses SET comment_masked = surveyd_mask_contact_details(comment)
WHERE comment ~ '[０-９\u2009\u202f\u2010-\u2015\u2212\r\n\t]' OR comment ~* '\sat\s|\sdot\s';
