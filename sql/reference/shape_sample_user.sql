-- The email of a user a shape's incident broke with a finding of kind $1.
SELECT email FROM credits_fixture.expected_finding WHERE kind = $1 ORDER BY email LIMIT 1;
