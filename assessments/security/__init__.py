"""Identity, sessions and audit (issue 5): lockout, password policy, session limits, audit hooks."""
