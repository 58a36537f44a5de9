-- Each measure's answer (decision, reasons, when it changes), kept apart from the rest of the
-- explanation, so that the check question reads a few hundred bytes instead of the whole
-- explanation. Rows rated before this migration carry '' and keep the answers inside their
-- explanation; the next rating moves them here.
ALTER TABLE assessments ADD COLUMN answers TEXT NOT NULL DEFAULT '';
