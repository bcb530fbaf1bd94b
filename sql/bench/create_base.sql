-- credits-bench: the database the incident generator fills once; every
-- measurement runs on a fresh copy of it (create_copy.sql).
CREATE DATABASE bench_base;
