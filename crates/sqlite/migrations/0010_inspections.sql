-- Inspection plans and their draws ("double random" inspections). The plan and the draw are
-- journal entries; these tables find them by key and find the draws that selected a subject.
CREATE TABLE IF NOT EXISTS inspection_plans (
    id        INTEGER PRIMARY KEY,
    authority INTEGER NOT NULL REFERENCES authorities (id),
    plan_no   TEXT NOT NULL,
    planned   INTEGER NOT NULL UNIQUE,
    drawn     INTEGER UNIQUE,
    UNIQUE (authority, plan_no)
);
CREATE TABLE IF NOT EXISTS inspection_targets (
    plan    INTEGER NOT NULL REFERENCES inspection_plans (id),
    subject INTEGER NOT NULL REFERENCES subjects (id),
    class   TEXT NOT NULL,
    team    INTEGER NOT NULL,
    PRIMARY KEY (plan, subject)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS inspection_targets_by_subject ON inspection_targets (subject, plan);
