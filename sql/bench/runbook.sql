-- credits-bench: the runbook's approach, as written in the incident runbook
-- (docs 000_9c82b42f4bb74605.txt) and as a DBA would complete it.
--
-- 1. Its monitoring view, verbatim.
CREATE VIEW public.payment_credit_status AS
SELECT
  cr.id as recharge_id,
  cr.user_id,
  cr.amount as credits,
  cr.status as recharge_status,
  cr.payment_intent_id,
  cr.created_at as payment_time,
  ct.id as transaction_id,
  ct.created_at as credit_time,
  ucb.balance as current_balance,
  CASE
    WHEN cr.status = 'completed' AND ct.id IS NOT NULL THEN 'SUCCESS'
    WHEN cr.status = 'completed' AND ct.id IS NULL THEN 'MISSING_TRANSACTION'
    WHEN cr.status = 'pending' AND cr.created_at < NOW() - INTERVAL '1 hour' THEN 'STUCK_PENDING'
    ELSE 'PROCESSING'
  END as status_check
FROM credit_recharge cr
LEFT JOIN credit_transaction ct ON cr.id = ct.related_recharge_id
LEFT JOIN user_credit_balance ucb ON cr.user_id = ucb.user_id
WHERE cr.created_at >= NOW() - INTERVAL '7 days'
ORDER BY cr.created_at DESC;

-- 2. manual_fix_user_credits(user_id): the runbook names it without its
-- body; this is the obvious one. Insert a recharge transaction for each of
-- the user's completed recharges that has none, then recompute the balance
-- from the ledger. No locking, no audit.
CREATE FUNCTION public.manual_fix_user_credits(p_user_id uuid)
RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
    r record;
    n int := 0;
BEGIN
    FOR r IN
        SELECT cr.id, cr.amount
        FROM credit_recharge cr
        LEFT JOIN credit_transaction ct ON cr.id = ct.related_recharge_id
        WHERE cr.user_id = p_user_id
          AND cr.status = 'completed'
          AND ct.id IS NULL
    LOOP
        INSERT INTO credit_transaction (user_id, amount, type, related_recharge_id, description)
        VALUES (p_user_id, r.amount, 'recharge', r.id, 'manual fix');
        n := n + 1;
    END LOOP;

    INSERT INTO user_credit_balance (user_id, balance, updated_at)
    VALUES (p_user_id,
            (SELECT coalesce(sum(amount), 0) FROM credit_transaction WHERE user_id = p_user_id),
            now())
    ON CONFLICT (user_id) DO UPDATE
        SET balance = EXCLUDED.balance, updated_at = EXCLUDED.updated_at;
    RETURN n;
END;
$$;

-- 3. The runbook's bulk repair (SELECT manual_fix_user_credits(user_id)
-- FROM <affected users>) as a per-user PL/pgSQL loop, with one addition for
-- the benchmark: it stops after p_cap_seconds so a run that would take hours
-- can be measured and extrapolated. Returns how many users there were, how
-- many it repaired before stopping, and the transactions it inserted.
CREATE FUNCTION public.bench_runbook_bulk_fix(
    p_cap_seconds float8,
    OUT users_total int,
    OUT users_fixed int,
    OUT transactions_inserted int)
LANGUAGE plpgsql
AS $$
DECLARE
    v_deadline timestamptz := clock_timestamp() + make_interval(secs => p_cap_seconds);
    v_users uuid[];
    v_user uuid;
BEGIN
    SELECT coalesce(array_agg(user_id), '{}') INTO v_users
    FROM (
      SELECT DISTINCT cr.user_id
      FROM credit_recharge cr
      LEFT JOIN credit_transaction ct ON cr.id = ct.related_recharge_id
      WHERE cr.status = 'completed'
        AND ct.id IS NULL
        AND cr.created_at >= NOW() - INTERVAL '7 days'
    ) affected_users;
    users_total := cardinality(v_users);
    users_fixed := 0;
    transactions_inserted := 0;
    FOREACH v_user IN ARRAY v_users LOOP
        EXIT WHEN clock_timestamp() > v_deadline;
        transactions_inserted := transactions_inserted + public.manual_fix_user_credits(v_user);
        users_fixed := users_fixed + 1;
    END LOOP;
END;
$$;
