-- The batch repair (credits_ops.fix_users, V022) reads only the recharges
-- its caller names, when it names them (p_recharges). bulk-fix's plan knows
-- which recharges of its users the repair would look at: to credit, to
-- mark completed, duplicated, credited another amount (about 1.3 per
-- affected user at 1M). The batch read every recharge of its users, about
-- ten each, with a probe of the ledger for each: at 1M, 42 ms of a batch
-- of 250 users against 9.5 ms for the planned ones alone (psql, 40 batches
-- each). It also makes what bulk-fix credits what its plan counted for
-- --max-credits: a recharge of an affected user outside the window is no
-- longer credited with the others. fix-user (p_recharges NULL) still reads
-- every recharge of its user. The read is V019's facts_of_recharges, so
-- the ledger is summed as the kept facts sum it; everything after the read
-- is V022's, unchanged. A new parameter is a new signature: V022's
-- function is dropped and this one created (fix_user, V011, calls it by
-- position with the defaults).

DROP FUNCTION credits_ops.fix_users(text[], text, text, text, boolean, boolean, jsonb);

CREATE FUNCTION credits_ops.fix_users(
    p_users text[],
    p_operator text DEFAULT NULL,
    p_reason text DEFAULT NULL,
    p_command text DEFAULT 'fix_user',
    p_reverse_duplicates boolean DEFAULT false,
    p_skip_locked boolean DEFAULT false,
    p_stripe jsonb DEFAULT NULL,
    p_recharges text[] DEFAULT NULL)
RETURNS TABLE (user_id text, recharge_id text, payment_intent_id text, action text,
               credits bigint, detail text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
SET jit = off
AS $fn$
DECLARE
    v_operator  text := coalesce(p_operator, session_user::text);
    v_refused   text[] := ARRAY(SELECT jsonb_object_keys(coalesce(p_stripe -> 'refused', '{}')));
    v_facts     credits_ops.recharge_ledger[];
    v_changing  text[];
    v_locked    text[];
    v_statuses  text[];
    v_row       record;
    v_ids       text[];
    v_users     text[];
    v_sums      bigint[];
    v_balances  bigint[];
    v_held      text[];
    v_before    bigint;
    v_excess    bigint;
BEGIN
    -- The one read: each recharge to look at with what the ledger holds for
    -- it (V019's facts_of_recharges: the recharge by id, its ledger rows by
    -- the recharge id they link). Given p_recharges (bulk-fix's plan), only
    -- those of the users; else every recharge of the users (fix-user).
    v_facts := ARRAY(
        SELECT ROW(f.id, f.user_id, f.status, f.amount, f.payment_intent_id, f.credits_n,
                   f.credited, f.adjusted, f.smallest_credit, f.largest_credit)::credits_ops.recharge_ledger
        FROM credits_ops.facts_of_recharges(
                 coalesce(p_recharges,
                          ARRAY(SELECT r.id FROM credits_ops.app_recharge r WHERE r.user_id = ANY (p_users)))) f
        WHERE f.user_id = ANY (p_users));
    -- The recharges to change: to credit, to mark completed, to reverse.
    v_changing := ARRAY(
        SELECT f.id FROM unnest(v_facts) f
        WHERE (f.status = 'completed' AND f.credits_n = 0 AND f.id <> ALL (v_refused))
           OR (f.status IN ('pending', 'failed') AND f.credits_n > 0)
           OR (p_reverse_duplicates AND f.credits_n > 1));

    -- The lock order of every writer: recharge rows by id, then balance
    -- rows by user id. Each locked row's status is read as it is now.
    IF p_skip_locked THEN
        SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.status), '{}')
          INTO v_locked, v_statuses
          FROM (SELECT r.id, r.status FROM credits_ops.app_recharge r
                WHERE r.id = ANY (v_changing) ORDER BY r.id FOR UPDATE SKIP LOCKED) r;
        v_users := ARRAY(SELECT b.user_id FROM credits_ops.app_balance b
                         WHERE b.user_id = ANY (p_users) ORDER BY b.user_id FOR UPDATE SKIP LOCKED);
        -- Held by someone else: a recharge to change or a balance row we did
        -- not get. Set differences (hashed), not = ANY / <> ALL per row.
        v_held := ARRAY(SELECT f.user_id FROM unnest(v_facts) f
                        WHERE f.id IN (SELECT unnest(v_changing) EXCEPT SELECT unnest(v_locked))
                        UNION
                        (SELECT b.user_id FROM credits_ops.app_balance b
                         WHERE b.user_id = ANY (p_users)
                         EXCEPT
                         SELECT unnest(v_users)));
        IF cardinality(v_held) > 0 THEN
            RETURN QUERY SELECT h, NULL::text, NULL::text, 'skipped_locked'::text, NULL::bigint,
                                'rows locked by another session (the webhook, another repair): run again'::text
                           FROM unnest(v_held) AS h;
            p_users := ARRAY(SELECT u FROM unnest(p_users) AS u WHERE u <> ALL (v_held));
            v_facts := ARRAY(SELECT f FROM unnest(v_facts) f WHERE f.user_id <> ALL (v_held));
        END IF;
    ELSE
        SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.status), '{}')
          INTO v_locked, v_statuses
          FROM (SELECT r.id, r.status FROM credits_ops.app_recharge r
                WHERE r.id = ANY (v_changing) ORDER BY r.id FOR UPDATE) r;
    END IF;

    RETURN QUERY
    SELECT f.user_id, f.id, f.payment_intent_id, 'not_paid_in_stripe'::text, f.amount,
           p_stripe #>> ARRAY['refused', f.id]
      FROM unnest(v_facts) f
     WHERE f.id = ANY (v_refused);

    -- credit_recharges locks these again (they are ours) and plans after
    -- its locks: one credited meanwhile comes back already_credited.
    RETURN QUERY
    SELECT c.user_id, c.recharge_id, c.payment_intent_id, c.action,
           CASE c.action WHEN 'credited' THEN c.amount WHEN 'already_credited' THEN 0 END,
           CASE c.action
               WHEN 'credited' THEN format('balance %s -> %s', c.balance_before, c.balance_after)
               WHEN 'already_credited' THEN 'credited by another writer meanwhile: nothing done'
               ELSE format('%s: changed by another writer meanwhile; nothing done', c.action) END
    FROM credits_ops.credit_recharges(
        ARRAY(SELECT f.id FROM unnest(v_facts) f
              WHERE f.status = 'completed' AND f.credits_n = 0 AND f.id <> ALL (v_refused)),
        coalesce(p_stripe -> 'paid', '{}'), v_operator, p_reason, p_command, false, false) c;

    -- Credited but still pending or failed, as the locked row says now
    -- (a ledger row, once there, stays: the ledger is append-only).
    SELECT coalesce(array_agg(f.id ORDER BY f.id), '{}'), coalesce(array_agg(f.user_id ORDER BY f.id), '{}')
      INTO v_ids, v_users
      FROM unnest(v_facts) f
      JOIN unnest(v_locked, v_statuses) AS l (id, status) ON l.id = f.id
     WHERE f.credits_n > 0 AND l.status IN ('pending', 'failed');
    IF cardinality(v_ids) > 0 THEN
        PERFORM credits_ops.app_recharge_complete_many(v_ids);
        INSERT INTO credits_ops.repair_log (operator, reason, command, recharge_id, user_id, action, credits_delta)
        SELECT v_operator, p_reason, p_command, m.id, m.user_id, 'marked_completed', 0
          FROM unnest(v_ids, v_users) AS m (id, user_id);
        RETURN QUERY SELECT m.user_id, m.id, NULL::text, 'marked_completed'::text, 0::bigint,
                            'credited already; status set to completed'::text
                       FROM unnest(v_ids, v_users) AS m (id, user_id);
    END IF;

    -- Credits granted for a recharge beyond its amount, net of earlier
    -- reversals (adjustments linked to it), so reversing twice is a no-op.
    -- Summed again here: with p_reverse_duplicates the recharge row is
    -- locked, so what is read is what another run may have reversed since.
    -- Rare, and a decision: one at a time, through V007's one-row writers.
    FOR v_row IN
        SELECT r.id, r.user_id, r.amount, t.credited, t.n, t.adjusted
          FROM unnest(v_facts) r
          CROSS JOIN LATERAL (
              SELECT sum(t.amount) FILTER (WHERE t.type = 'recharge') AS credited,
                     count(*) FILTER (WHERE t.type = 'recharge') AS n,
                     coalesce(sum(t.amount) FILTER (WHERE t.type = 'adjustment'), 0) AS adjusted
                FROM credits_ops.app_transaction t
               WHERE t.related_recharge_id = r.id) t
         WHERE r.credits_n > 1 AND t.n > 1
         ORDER BY r.user_id, r.id
    LOOP
        v_excess := v_row.credited + v_row.adjusted - v_row.amount;
        IF v_excess <= 0 THEN
            CONTINUE;
        ELSIF p_reverse_duplicates THEN
            v_before := credits_ops.lock_balance(v_row.user_id);
            PERFORM credits_ops.append_ledger(v_row.user_id, -v_excess, 'adjustment', v_row.id,
                                              (SELECT coalesce(sum(t.amount), 0)::bigint - v_excess
                                                 FROM credits_ops.app_transaction t WHERE t.user_id = v_row.user_id),
                                              p_command, p_reason);
            EXECUTE credits_ops.adapter_sql('balance_add') USING v_row.user_id, -v_excess, -v_excess;
            INSERT INTO credits_ops.repair_log (operator, reason, command, recharge_id, user_id, action, credits_delta,
                                                balance_before, balance_after, detail)
            VALUES (v_operator, p_reason, p_command, v_row.id, v_row.user_id, 'duplicate_reversed', -v_excess,
                    v_before, v_before - v_excess, jsonb_build_object('recharge_transactions', v_row.n));
            RETURN QUERY SELECT v_row.user_id, v_row.id, NULL::text, 'duplicate_reversed'::text, -v_excess,
                                format('%s recharge transactions; %s credits reversed by an adjustment', v_row.n, v_excess);
        ELSE
            RETURN QUERY SELECT v_row.user_id, v_row.id, NULL::text, 'duplicate_reported'::text, v_excess,
                                format('%s recharge transactions grant %s credits too many; rerun with --reverse-duplicates', v_row.n, v_excess);
        END IF;
    END LOOP;

    -- Reported, never changed: each credit of another amount than its
    -- recharge's, for the recharges the read found one on.
    RETURN QUERY
    SELECT r.user_id, r.id, NULL::text, 'amount_mismatch_reported'::text, (r.amount - t.amount)::bigint,
           format('recharge of %s, transaction granted %s: review by hand', r.amount, t.amount)
      FROM unnest(v_facts) r
      CROSS JOIN LATERAL (SELECT t.amount FROM credits_ops.app_transaction t
                          WHERE t.related_recharge_id = r.id AND t.type = 'recharge' OFFSET 0) t
     WHERE (r.smallest_credit <> r.amount OR r.largest_credit <> r.amount) AND t.amount <> r.amount
     ORDER BY r.user_id, r.id;

    -- Last, the cached balances: each the sum of its ledger, read under the
    -- balance row's lock so a concurrent apply_recharge is wholly in or out.
    -- A user with ledger rows and no balance row gets one.
    EXECUTE credits_ops.adapter_sql('balance_create_many')
      USING ARRAY(SELECT u FROM unnest(p_users) AS u
                  WHERE EXISTS (SELECT FROM credits_ops.app_transaction t WHERE t.user_id = u OFFSET 0)
                    AND NOT EXISTS (SELECT FROM credits_ops.app_balance b WHERE b.user_id = u OFFSET 0));
    -- Locked in a statement of its own: the ledger is summed in the next
    -- one, whose snapshot sees every credit committed before the lock.
    PERFORM FROM credits_ops.app_balance b WHERE b.user_id = ANY (p_users) ORDER BY b.user_id FOR UPDATE;
    SELECT coalesce(array_agg(d.user_id ORDER BY d.user_id), '{}'),
           coalesce(array_agg(d.balance ORDER BY d.user_id), '{}'),
           coalesce(array_agg(d.ledger ORDER BY d.user_id), '{}')
      INTO v_users, v_balances, v_sums
      FROM (SELECT b.user_id, b.balance, coalesce(l.total, 0)::bigint AS ledger
              FROM credits_ops.app_balance b
              CROSS JOIN LATERAL (SELECT sum(t.amount) AS total FROM credits_ops.app_transaction t
                                  WHERE t.user_id = b.user_id) l
             WHERE b.user_id = ANY (p_users) AND b.balance IS DISTINCT FROM coalesce(l.total, 0)) d;
    IF cardinality(v_users) > 0 THEN
        PERFORM credits_ops.app_balance_set_many(v_users, v_sums);
        INSERT INTO credits_ops.repair_log (operator, reason, command, user_id, action, credits_delta, balance_before, balance_after)
        SELECT v_operator, p_reason, p_command, d.user_id, 'balance_corrected', d.ledger - d.balance, d.balance, d.ledger
          FROM unnest(v_users, v_balances, v_sums) AS d (user_id, balance, ledger);
        RETURN QUERY SELECT d.user_id, NULL::text, NULL::text, 'balance_corrected'::text, d.ledger - d.balance,
                            format('balance %s -> %s (the ledger sum)', d.balance, d.ledger)
                       FROM unnest(v_users, v_balances, v_sums) AS d (user_id, balance, ledger);
    END IF;
END
$fn$;

REVOKE ALL ON FUNCTION credits_ops.fix_users(text[], text, text, text, boolean, boolean, jsonb, text[]) FROM PUBLIC;
