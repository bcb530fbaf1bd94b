-- Builds the adapter from the detected profile (credits_ops.build_adapter,
-- sql/migrations/V002) and stores it. Run by `credits install` when the
-- detected profile differs from the stored one.
SELECT credits_ops.build_adapter($1::text::jsonb, $2::text);
