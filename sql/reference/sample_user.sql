-- The email of one user the incident broke (for the demo's per-user step).
SELECT u.email
FROM credits_demo.expected_finding f
JOIN public.credit_recharge r ON r.id = f.recharge_id
JOIN auth.users u ON u.id = r.user_id
WHERE f.kind = $1
ORDER BY u.email
LIMIT 1;
