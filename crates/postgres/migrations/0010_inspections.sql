-- Inspection plans and their draws ("double random" inspections). The plan and the draw are
-- journal entries; these tables find them by key and find the draws that selected a subject.
CREATE TABLE IF NOT EXISTS inspection_plans (
    id        BIGSERIAL PRIMARY KEY,
    authority BIGINT NOT NULL,
    plan_no   TEXT NOT NULL,
    planned   BIGINT NOT NULL UNIQUE,
    drawn     BIGINT UNIQUE,
    UNIQUE (authority, plan_no)
);
CREATE TABLE IF NOT EXISTS inspection_targets (
    plan    BIGINT NOT NULL,
    subject BIGINT NOT NULL,
    class   TEXT NOT NULL,
    team    INTEGER NOT NULL,
    PRIMARY KEY (plan, subject)
);
CREATE INDEX IF NOT EXISTS inspection_targets_by_subject ON inspection_targets (subject, plan);
