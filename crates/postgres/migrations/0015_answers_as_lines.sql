-- The answers per measure are stored as JSON Lines, one measure a line, instead of one JSON
-- array, so that a check decodes only the line of the measure it asks about. Rows written as
-- an array are rewritten here; the text of each answer is unchanged (`json`, unlike `jsonb`,
-- keeps it as written).
UPDATE assessments
SET answers = coalesce(
    (SELECT string_agg(e.value::text, chr(10) ORDER BY e.n)
     FROM json_array_elements(assessments.answers::json) WITH ORDINALITY AS e(value, n)), '')
WHERE answers LIKE '[%';
