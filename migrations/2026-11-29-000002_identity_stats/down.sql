DROP TRIGGER follows_counted ON follows;
DROP TRIGGER statuses_counted ON statuses;
DROP FUNCTION guise_count_follows();
DROP FUNCTION guise_count_statuses();
DROP TABLE identity_stats;
