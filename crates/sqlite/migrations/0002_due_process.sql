-- Due process. A record carries whether an objection to it is open and the date (YYYYMMDD) a
-- repair ended its effects. Cases list every objection and repair application, by the journal
-- index of the step that opened it and of the step that closed it, for deadline tracking.
ALTER TABLE records ADD COLUMN disputed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN repaired INTEGER;

CREATE TABLE cases (
    record INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    opened INTEGER NOT NULL,
    closed INTEGER,
    PRIMARY KEY (opened)
);
CREATE INDEX cases_by_record ON cases(record, kind, closed);
