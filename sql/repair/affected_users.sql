-- The users `credits bulk-fix` repairs, read after a facts head as the
-- checks are (sql/kept/facts.sql, or sql/debug/facts.sql when the kept
-- facts cannot be used: `kept::Facts::over`), in a snapshot whose scope settings hold the
-- window (credits.since): those with a recharge in the window that
-- fix-user would change (completed without its transaction, credited but
-- pending or failed, and with $1 a duplicate to reverse), and every user
-- whose cached balance differs from the ledger or is missing. None of these
-- recharges is plainly credited and none of these users balanced, so the
-- heads' facts hold them all.
-- credits: what crediting their completed recharges grants (for --max-credits).
-- recharges: the user's recharges in the window the repair looks at (those
-- above, and the duplicated or credited another amount it reports), so
-- each batch reads these alone (fix_users' p_recharges, V026), not every
-- recharge of its users.
-- One page: the users after $2 up to $3 included (either NULL: no bound),
-- so each page's snapshot stays short (V029; the page's end:
-- sql/repair/affected_users_page_end.sql).
-- In psql, against V013's views, the whole plan as one page:
--   SET search_path = credits_ops, public; SET credits.since = '2026-11-24';
--   PREPARE p(boolean, text, text) AS <this file>; EXECUTE p(false, NULL, NULL);
WITH recharge_users AS (
    -- One pass over the facts: named once, so after the kept facts' head
    -- the planner pushes these conditions into the kept rows' scan instead
    -- of materializing every kept recharge.
    SELECT r.user_id,
           coalesce(sum(r.amount) FILTER (WHERE r.status = 'completed' AND r.credits_n = 0), 0)::bigint
               AS credits,
           bool_or((r.status = 'completed' AND r.credits_n = 0)
                   OR (r.status IN ('pending', 'failed') AND r.credits_n > 0)
                   OR ($1 AND r.credits_n > 1 AND r.credited + r.adjusted > r.amount)) AS affected,
           array_agg(r.id ORDER BY r.id) AS recharges
    FROM recharge_facts r
    WHERE ((r.status = 'completed' AND r.credits_n = 0)
           OR (r.status IN ('pending', 'failed') AND r.credits_n > 0)
           OR r.credits_n > 1
           OR r.smallest_credit <> r.amount
           OR r.largest_credit <> r.amount)
      AND (r.user_id > $2 OR $2 IS NULL)
      AND (r.user_id <= $3 OR $3 IS NULL)
    GROUP BY r.user_id
), drifted AS (
    SELECT DISTINCT u.user_id
    FROM user_facts u
    WHERE u.balance IS DISTINCT FROM u.ledger_sum
      AND NOT (u.ledger_n = 0 AND u.balance = 0)
      AND (u.user_id > $2 OR $2 IS NULL)
      AND (u.user_id <= $3 OR $3 IS NULL)
)
SELECT coalesce(r.user_id, d.user_id) AS user_id,
       coalesce(r.credits, 0)::bigint AS credits,
       coalesce(r.recharges, '{}') AS recharges
FROM recharge_users r
FULL JOIN drifted d ON d.user_id = r.user_id
WHERE coalesce(r.user_id, d.user_id) IS NOT NULL
  AND (r.affected OR d.user_id IS NOT NULL)
ORDER BY 1;
