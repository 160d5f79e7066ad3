DROP TABLE remote_deleted;
