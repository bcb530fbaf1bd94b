-- title: RLS is on but a credits table has no policy: every role without BYPASSRLS is blocked
-- severity: info
-- scope: database
-- fix: credits rls-fix --check
-- Fine for a deny-all table when the webhook uses the service role (which
-- bypasses RLS); a webhook using the anon key is then blocked, silently for
-- UPDATEs (0 rows) and with 42501 for INSERTs.
SELECT 'RLS_NO_POLICY'::text AS check_name,
       'info'::text AS severity,
       NULL::text AS recharge_id,
       NULL::text AS user_id,
       NULL::text AS payment_intent_id,
       NULL::bigint AS credits,
       format('RLS is enabled on %s.%I with no policy: only BYPASSRLS roles (service_role) and the owner can use it', c.relnamespace::regnamespace, c.relname) AS detail,
       'credits rls-fix --check'::text AS fix
FROM credits_ops.app_tables() a
JOIN pg_class c ON c.oid = a.relid
  AND c.relrowsecurity
  AND NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = c.oid)
ORDER BY c.oid::regclass::text;
