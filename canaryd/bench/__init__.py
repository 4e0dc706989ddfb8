"""The canary bench: the judge against other tools' documented methods, in seeded simulation.

Layer 4 (tool). `simulator` draws what Prometheus would show of a rollout. `judges` and
`baselines` replay canaryd's judge, Flagger's, Argo Rollouts' and Kayenta's methods and the
SPRT oracle over the same traces. `runner` and `summary` collect the figures, and `report`
calibrates, checks the targets and renders the table.
"""
