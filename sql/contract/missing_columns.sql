-- The domain contract: every table.column credits reads or writes.
-- Returns one row per required column that is missing (nothing when the
-- contract is met). `stripe_webhook_event` is optional: its columns are
-- required only when the table exists.
-- pg_attribute is read rather than information_schema.columns, which hides
-- columns the connected role has no privilege on.
WITH required (table_name, column_name, optional) AS (
    VALUES
        ('credit_package',       'id',                  false),
        ('credit_package',       'name',                false),
        ('credit_package',       'credits',             false),
        ('credit_package',       'is_active',           false),
        ('credit_recharge',      'id',                  false),
        ('credit_recharge',      'user_id',             false),
        ('credit_recharge',      'amount',              false),
        ('credit_recharge',      'status',              false),
        ('credit_recharge',      'payment_intent_id',   false),
        ('credit_recharge',      'created_at',          false),
        ('credit_transaction',   'id',                  false),
        ('credit_transaction',   'user_id',             false),
        ('credit_transaction',   'amount',              false),
        ('credit_transaction',   'type',                false),
        ('credit_transaction',   'related_recharge_id', false),
        ('credit_transaction',   'created_at',          false),
        ('user_credit_balance',  'user_id',             false),
        ('user_credit_balance',  'balance',             false),
        ('stripe_webhook_event', 'id',                  true),
        ('stripe_webhook_event', 'type',                true),
        ('stripe_webhook_event', 'payment_intent_id',   true),
        ('stripe_webhook_event', 'payload',             true),
        ('stripe_webhook_event', 'status',              true),
        ('stripe_webhook_event', 'error',               true),
        ('stripe_webhook_event', 'received_at',         true)
)
SELECT r.table_name,
       r.column_name,
       to_regclass('public.' || quote_ident(r.table_name)) IS NULL AS table_missing
FROM required r
WHERE NOT EXISTS (
        SELECT 1
        FROM pg_attribute a
        WHERE a.attrelid = to_regclass('public.' || quote_ident(r.table_name))
          AND a.attname = r.column_name
          AND a.attnum > 0
          AND NOT a.attisdropped)
  AND NOT (r.optional AND to_regclass('public.' || quote_ident(r.table_name)) IS NULL)
ORDER BY r.table_name, r.column_name;
