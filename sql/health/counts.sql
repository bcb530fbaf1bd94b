-- credits health: the findings of every check counted on the server, with
-- the credits they are about. src/checks.rs appends this to the checks'
-- statement (the facts' head, then `findings AS (<every check's file,
-- UNION ALL>)`), so the findings' details are never formatted nor sent:
-- health needs only how many each check has. Checks with no finding have
-- no row.
SELECT f.check_name,
       count(*) AS found,
       sum(f.credits)::bigint AS credits
FROM findings f
GROUP BY f.check_name;
