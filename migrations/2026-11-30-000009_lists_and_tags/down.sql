DROP INDEX statuses_public_local_idx;
DROP TABLE followed_tags;
DROP TABLE list_members;
DROP TABLE lists;
