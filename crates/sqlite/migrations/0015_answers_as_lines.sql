-- The answers per measure are stored as JSON Lines, one measure a line, instead of one JSON
-- array, so that a check decodes only the line of the measure it asks about. Rows written as
-- an array are rewritten here; the text of each answer is unchanged.
UPDATE assessments
SET answers = coalesce(
    (SELECT group_concat(value, char(10)) FROM json_each(assessments.answers)), '')
WHERE answers LIKE '[%';
