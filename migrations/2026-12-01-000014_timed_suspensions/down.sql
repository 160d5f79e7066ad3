DROP TABLE suspension_ends;
