-- Takes every active package off sale, returning exactly those it changed.
-- The UPDATE locks the rows it changes, so the set returned is the set
-- active at this moment, and is what the pause records.
UPDATE public.credit_package p
SET is_active = false
WHERE p.is_active
RETURNING p.id::text AS id, p.name::text AS name, p.credits::bigint AS credits;
