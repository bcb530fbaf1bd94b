-- Probe: the active and inactive packages the current role sees.
SELECT count(*) FILTER (WHERE is_active) AS active,
       count(*) FILTER (WHERE NOT is_active) AS inactive
FROM public.credit_package;
