-- credits-bench: drops the previous measurement's copy.
DROP DATABASE IF EXISTS bench_copy WITH (FORCE);
