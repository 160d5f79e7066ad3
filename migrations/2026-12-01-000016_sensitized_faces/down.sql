DROP TRIGGER statuses_sensitized ON statuses;
DROP FUNCTION statuses_of_sensitized_faces();
DROP TABLE sensitized_faces;
