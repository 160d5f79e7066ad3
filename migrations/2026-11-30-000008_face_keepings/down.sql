DROP TABLE reports;
DROP TABLE markers;
ALTER TABLE mutes DROP COLUMN expires_at;
DROP TABLE face_domain_blocks;
DROP TABLE account_notes;
DROP TABLE thread_mutes;
DROP TABLE pinned_statuses;
DROP TABLE bookmarks;
DROP INDEX favourites_face_idx;
