DROP TABLE email_domain_blocks;
