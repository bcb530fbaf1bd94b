-- credits-bench: fresh statistics and visibility map on the generated data,
-- so every copy starts from the state autovacuum would reach.
VACUUM ANALYZE;
