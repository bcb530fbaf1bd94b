-- Act as an API role for the rest of the probe's savepoint, as PostgREST
-- does per request: SET LOCAL ROLE, and the JWT claims auth.uid() reads.
-- $1 role, $2 claims JSON ('' for none). Undone by ROLLBACK TO SAVEPOINT.
SELECT set_config('role', $1, true),
       set_config('request.jwt.claims', $2, true);
