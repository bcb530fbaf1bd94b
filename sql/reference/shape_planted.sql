-- What a shape's incident planted (sql/reference/shapes/), per kind.
SELECT kind, count(*)::int AS expected
FROM credits_fixture.expected_finding
GROUP BY kind
ORDER BY kind;
