DROP TABLE announcement_reactions;
