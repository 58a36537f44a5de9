-- Rating needs each subject's date of establishment. Kept in the projection, it is read with
-- the subject's row, where before the subject's journal entry was read and decoded for it.
-- Filled from those entries here (canonical JSON, docs/log-format.md); an unknown date is NULL.
-- Dates are integers YYYYMMDD.
ALTER TABLE subjects ADD COLUMN established INTEGER;
UPDATE subjects s
   SET established = replace(convert_from(j.body, 'UTF8')::jsonb #>> '{body,subject,established}',
                             '-', '')::INTEGER
  FROM journal j
 WHERE j.idx = s.event;
