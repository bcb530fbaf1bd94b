-- The ledger invariants of docs/DOMAIN.md, on the reference schema, as one
-- row per invariant with the number of rows violating it. Every test that
-- checks I1-I5 reads this file, so their definitions cannot drift apart.
-- I4 leaves out the double credits the incident generator planted on
-- purpose (credits_demo.expected_finding): the ledger is append-only, so
-- those rows stay even after a reversal.
SELECT 'I1 completed without a recharge transaction' AS invariant, count(*) AS violations
FROM credit_recharge r
WHERE r.status = 'completed'
  AND NOT EXISTS (SELECT FROM credit_transaction t
                  WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
UNION ALL
SELECT 'I2 credited but pending or failed', count(*)
FROM credit_recharge r
WHERE r.status IN ('pending', 'failed')
  AND EXISTS (SELECT FROM credit_transaction t
              WHERE t.related_recharge_id = r.id AND t.type = 'recharge')
UNION ALL
SELECT 'I3 balance differs from ledger or is missing', count(*)
FROM (SELECT t.user_id FROM credit_transaction t GROUP BY t.user_id
      HAVING sum(t.amount) IS DISTINCT FROM
             (SELECT b.balance FROM user_credit_balance b WHERE b.user_id = t.user_id)) x
UNION ALL
SELECT 'I4 recharge credited twice (not planted)', count(*)
FROM (SELECT related_recharge_id FROM credit_transaction WHERE type = 'recharge'
      GROUP BY 1 HAVING count(*) > 1) d
WHERE related_recharge_id NOT IN
      (SELECT recharge_id FROM credits_demo.expected_finding WHERE kind = 'DUPLICATE_CREDIT')
UNION ALL
SELECT 'I5 credit audited without its ledger row', count(*)
FROM credits_ops.repair_log l
WHERE l.action = 'credited'
  AND NOT EXISTS (SELECT FROM credit_transaction t
                  WHERE t.id::text = l.detail ->> 'transaction_id' AND t.amount = l.credits_delta
                    AND t.related_recharge_id::text = l.recharge_id AND t.type = 'recharge');
