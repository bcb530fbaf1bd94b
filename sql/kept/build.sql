-- Builds V019's kept facts from the tables: every recharge and user read
-- once, as long as one `credits debug --rescan` takes. Run alone (its own
-- READ COMMITTED transaction) after the migrations. It reads the app's
-- tables without locking them and writes only credits_ops's.
SELECT b.seconds::float8 AS seconds, b.recharges_kept, b.users_kept FROM credits_ops.build_kept_facts() b;
