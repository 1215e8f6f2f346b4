-- Numbers and addresses written with characters the masks of 0030 did not know, masked too
-- (issue 8: no endpoint ever returns a phone number). Found by a privacy review, each shown
-- whole to analysts in /api/v1/comments and the CSV:
--   a number with an invisible character inside ("07700<zero-width space>900123", a phone's or
--   Outlook's copy; the number reader, core/phone.cpp, reads such a number as the number), or
--   with other Unicode spaces (figure, en, em, ideographic) or a full-width hyphen or bracket;
--   digits of other scripts: Arabic-Indic (Arabic), Extended Arabic-Indic (Urdu, Persian),
--   Devanagari (Hindi), Bengali, Gurmukhi (Punjabi), Gujarati, as their keyboards type them;
--   an address with a full-width or small "@".
-- Invisible characters (soft hyphen, zero-width spaces and joiners, direction marks, embeddings
-- and isolates, the word joiner, the byte order mark) are dropped from the masked text first: a
-- reader cannot see them, and they split what the patterns look for. Nothing else changes.
CREATE OR REPLACE FUNCTION surveyd_mask_numbers_and_addresses(text_in text) RETURNS text
  LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  t text := regexp_replace(text_in,
                           '[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]',
                           '', 'g');
  digit constant text :=
    '0-9\uff10-\uff19\u0660-\u0669\u06f0-\u06f9\u0966-\u096f\u09e6-\u09ef\u0a66-\u0a6f\u0ae6-\u0aef';
  run_pattern constant text :=
    '[+(\uff0b\uff08]?[' || digit || '][-' || digit ||
    ' ()./\u00a0\u2000-\u200a\u202f\u205f\u3000\u2010-\u2015\u2212\ufe58\ufe63\uff0d\uff08\uff09'
    '\uff0e\uff0f\r\n\t]*[' || digit || ']';
  out text := '';
  pos integer := 1;
  found integer;
  candidate text;
  digits integer;
BEGIN
  IF t IS NULL OR t = '' THEN
    RETURN t;
  END IF;
  t := translate(t, E'\uff20\ufe6b', '@@');
  t := regexp_replace(t, '[[:alnum:]._%+''-]+@[[:alnum:]-]+(\.[[:alnum:]-]+)+', '[email removed]',
                      'g');
  t := regexp_replace(t, '[[:alnum:]._%+-]+(\s+dot\s+[[:alnum:]_%+-]+)*\s*[[(]\s*at\s*[])]\s*'
                         '[[:alnum:]-]+'
                         '(\s*([.]|[[(]\s*dot\s*[])])\s*[[:alnum:]-]+)+', '[email removed]', 'gi');
  LOOP
    found := regexp_instr(t, run_pattern, pos);
    EXIT WHEN found = 0;
    candidate := regexp_substr(t, run_pattern, pos);
    digits := length(regexp_replace(candidate, '[^' || digit || ']', '', 'g'));
    out := out || substr(t, pos, found - pos);
    IF digits >= 10 OR (left(candidate, 1) IN ('+', E'\uff0b') AND digits >= 7) THEN
      out := out || '[phone removed]';
    ELSE
      out := out || candidate;
    END IF;
    pos := found + length(candidate);
  END LOOP;
  RETURN out || substr(t, pos);
END $$;

-- The forms of 0030, read after the invisible characters are dropped and the other "@"s read as
-- "@" (as surveyd_mask_numbers_and_addresses reads them).
CREATE OR REPLACE FUNCTION surveyd_mask_contact_details(text_in text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT surveyd_mask_numbers_and_addresses(
    regexp_replace(
      regexp_replace(
        regexp_replace(
          translate(
            regexp_replace(text_in,
                           '[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]',
                           '', 'g'),
            E'\uff20\ufe6b', '@@'),
          '[[:alnum:]._%+''-]+\s*@\s*[[:alnum:]-]+((\s*\.\s*|\s+dot\s+)[[:alnum:]-]+)+',
          '[email removed]', 'gi'),
        '[[:alnum:]._%+-]+(\s+dot\s+[[:alnum:]_%+-]+)*\s+at\s+[[:alnum:]-]+(\s+dot\s+[[:alnum:]-]+)+',
        '[email removed]', 'gi'),
      '[[:alnum:]._%+-]+\s+at\s+[[:alnum:]-]+(\.[[:alnum:]-]+)*\.[[:alpha:]]{2,}\M',
      '[email removed]', 'gi'))
$$;

-- Only the comments the new forms can change.
UPDATE responses SET comment_masked = surveyd_mask_contact_details(comment)
WHERE comment ~ ('[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u2000-\u200a\u205f\u3000'
                 '\ufe58\ufe63\uff08\uff09\uff0b\uff0d\uff0e\uff0f\uff20\ufe6b\u0660-\u0669'
                 '\u06f0-\u06f9\u0966-\u096f\u09e6-\u09ef\u0a66-\u0a6f\u0ae6-\u0aef]');
