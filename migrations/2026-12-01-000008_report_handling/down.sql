DROP TABLE report_handling;
DROP FUNCTION guise_report_handling_by_staff();
