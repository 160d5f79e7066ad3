DROP TABLE key_pool;
DROP TABLE instance_keys;
