-- credits health: the findings of every check counted on the server, with
-- the credits they are about, so the findings' details are never formatted
-- nor sent: health needs only how many each check has. src/checks.rs puts
-- the checks' files (UNION ALL) in place of the placeholder below, after the facts'
-- head (sql/kept/facts.sql or sql/debug/facts.sql) for those that read the
-- facts. Checks with no finding have no row.
SELECT f.check_name,
       count(*) AS found,
       sum(f.credits)::bigint AS credits
FROM (
{findings}
) AS f
GROUP BY f.check_name;
