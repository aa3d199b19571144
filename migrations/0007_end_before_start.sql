-- A campaign ended before it started keeps its planned start time, so its end may then lie
-- before its start. Drafts (which the console edits) still need an end after the start.
ALTER TABLE campaigns DROP CONSTRAINT campaigns_check1;
ALTER TABLE campaigns ADD CONSTRAINT campaigns_ends_after_start CHECK (ends_at > starts_at OR status <> 'draft');
