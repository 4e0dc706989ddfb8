"""`canaryd report`: one self-contained HTML page per rollout, with plots, verdicts and queries."""
