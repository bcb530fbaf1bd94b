-- Probe: credit recharge $1 through the one crediting path (always rolled back).
SELECT action FROM credits_ops.apply_recharge($1::text, 'credits rls-fix', 'probe', 'rls-fix probe');
