DROP TABLE email_domain_block_uses;
