DROP TABLE audit_log;
DROP FUNCTION guise_audit_by_staff();
