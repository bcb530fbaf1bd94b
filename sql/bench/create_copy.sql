-- credits-bench: a fresh copy of the generated data for one measurement.
CREATE DATABASE bench_copy TEMPLATE bench_base;
