-- The detected app profile and its checksum, for the migration that builds
-- the adapter from them (V002), in the current transaction only.
SELECT set_config('credits.profile', $1, true),
       set_config('credits.profile_checksum', $2, true);
