DROP TABLE announcer_queue;
