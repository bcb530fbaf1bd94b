-- Generates the reference incident (see incident.sql) and returns what it
-- planted: one row per kind of finding with its count.
-- $1: recharges, $2: users, $3: seed.
SELECT kind, expected FROM credits_demo.generate_incident($1, $2, $3);
