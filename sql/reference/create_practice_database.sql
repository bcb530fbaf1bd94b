-- `credits demo --keep`: a copy of the demo database taken before the
-- walk-through repairs it, so the kept server holds an unrepaired incident
-- to practise the runbook on. Run while nothing is connected to credits_demo.
CREATE DATABASE credits_practice TEMPLATE credits_demo;
