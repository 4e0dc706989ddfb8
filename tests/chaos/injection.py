"""A seeded generator of PromQL metric templates that try to read another namespace's series.

Templates are built from selectors aimed at the victim namespace (matchers on `namespace` written every
way PromQL and its parsers allow, plus label rewrites, quoting tricks and comments), wrapped in
functions, aggregations, subqueries and binary operators, the way a hostile template author would
combine them. Some are cut or get stray quotes, so that invalid text is generated too.
"""

from __future__ import annotations

import random

VICTIM = "bank"

METRICS = ("up", "http_requests_total", "scrape_samples_scraped", "istio_requests_total", "")

MATCHERS = (
    f'namespace="{VICTIM}"',
    f'namespace=~"{VICTIM}|shop"',
    'namespace!="shop"',
    'namespace=~".*"',
    'namespace=~".+"',
    'namespace!~"shop"',
    'namespace=""',
    'namespace="shop"',
    f"namespace='{VICTIM}'",
    f"namespace=`{VICTIM}`",
    'namespace="ba\\x6ek"',
    'namespace="\\u0062ank"',
    'namespace="ba\\156k"',
    'namespace="shop\\"}"',
    f'"namespace"="{VICTIM}"',
    f'"namespac{{e"="{VICTIM}"',
    f'"name}}space"="{VICTIM}"',
    f'NAMESPACE="{VICTIM}"',
    f'namespace = "{VICTIM}"',
    '__name__=~".+"',
    '__name__="up"',
    'job="apps"',
    'pod=~".+"',
    f'exported_namespace="{VICTIM}"',
    f'namespace="shop" or namespace="{VICTIM}"',
    'namespace="{{ namespace }}"',
    f'namespace="{{{{ namespace }}}}", namespace="{VICTIM}"',
    'app=~"{{ pod_regex }}|.*"',
    'namespace=~"(?i)BANK"',
    'namespace=~"b.*"',
)

RANGES = (
    "[{{ interval }}]",
    "[5m]",
    "[{{ interval }}:]",
    "[{{ interval }}:1s]",
    "[1m] offset -30s",
    "[{{ interval }}] @ end()",
    "[1m] offset 1m",
)

RANGE_FUNCTIONS = (
    "increase",
    "rate",
    "max_over_time",
    "last_over_time",
    "count_over_time",
    "absent_over_time",
)
VECTOR_FUNCTIONS = ("sum", "count", "absent", "sort", "group", "max", "abs", "timestamp")
AGGREGATIONS = ("sum", "count", "max", "min", "group")
BINARY = (
    " or ",
    " and on() ",
    " unless on() ",
    " + on() group_left ",
    " * 0 + ",
    " > bool ",
    " or on(namespace) ",
    " + ignoring(namespace) ",
)
LABEL_TRICKS = (
    'label_replace({inner}, "namespace", "shop", "", "")',
    f'label_replace({{inner}}, "namespace", "{VICTIM}", "", "")',
    'label_replace({inner}, "namespace", "$1", "exported_namespace", "(.*)")',
    'label_join({inner}, "namespace", "", "exported_namespace")',
    'count_values("namespace", {inner})',
    "topk(1, {inner})",
    "scalar({inner}) * vector(1)",
    "histogram_quantile(0.9, {inner})",
    '{inner} # }} or up{{namespace="bank"}}',
    '{inner}\n# up{{namespace="bank"}}',
)


def selector(rng: random.Random) -> str:
    """One vector selector with 0 to 3 matchers, some of them aimed at the victim namespace."""
    metric = rng.choice(METRICS)
    matchers = rng.sample(MATCHERS, rng.choice((0, 0, 0, 0, 1, 1, 2, 3)))
    if not metric and not matchers:
        matchers = ['__name__=~".+"']
    body = ",".join(matchers)
    if body and rng.random() < 0.1:
        body += ","
    if not body and rng.random() < 0.5:
        return metric
    return f"{metric}{{{body}}}"


def expression(rng: random.Random, depth: int = 0) -> str:
    """A random expression over hostile selectors."""
    choice = rng.randrange(6) if depth < 3 else 0
    if choice == 0:
        return f"{rng.choice(RANGE_FUNCTIONS)}({selector(rng)}{rng.choice(RANGES)})"
    if choice == 1:
        return f"{rng.choice(VECTOR_FUNCTIONS)}({expression(rng, depth + 1)})"
    if choice == 2:
        grouping = rng.choice(("", " by (namespace)", " without (namespace)", " by (exported_namespace)"))
        return f"{rng.choice(AGGREGATIONS)}{grouping} ({expression(rng, depth + 1)})"
    if choice == 3:
        return f"{expression(rng, depth + 1)}{rng.choice(BINARY)}{expression(rng, depth + 1)}"
    if choice == 4:
        return rng.choice(LABEL_TRICKS).format(inner=expression(rng, depth + 1))
    return f"max_over_time(({expression(rng, depth + 1)})[1m:15s])"


def template_text(rng: random.Random) -> str:
    """A template's requests query: hostile, and using {{ interval }} so that rendering accepts it."""
    text = expression(rng)
    if "{{ interval }}" not in text:
        text = f"{text} + sum(increase(http_requests_total[{{{{ interval }}}}]))"
    roll = rng.random()
    if roll < 0.05:
        text = text[: rng.randint(1, len(text))]
    elif roll < 0.1:
        cut = rng.randint(0, len(text))
        text = text[:cut] + rng.choice(('"', "'", "`", "}", "{", "\\", ")")) + text[cut:]
    return text
