"""Decide: compile the rules into a durable_rules ruleset, run a district's answers through it."""
