"""What a document states about a worked example: audit its claims
(:mod:`~symlstm.claims.audit`), explain the wrong ones
(:mod:`~symlstm.claims.explain`) and draft claims from a document's text
(:mod:`~symlstm.claims.draft`)."""
