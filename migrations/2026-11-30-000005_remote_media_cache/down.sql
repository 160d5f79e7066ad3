DROP TABLE remote_media;
