-- Folds up to $1 marks of app writes into V019's kept facts; run alone
-- (its own READ COMMITTED transaction). Returns how many it folded: 0 on a
-- replica, while another refresh runs, or while the state is not built.
SELECT credits_ops.refresh_kept_facts($1::integer) AS folded;
