"""Parse a PromQL query and confine every selector in it to one namespace.

A namespaced metric template must not read another namespace's series. Rather than trusting the
template's text, the query is parsed with promql-parser and every vector selector (including those
inside range vectors, subqueries and function arguments) gets the matcher `<label>="<namespace>"`.
A selector that already matches on that label with anything but the same namespace, or that uses
Prometheus 3's `or` inside braces, is rejected instead of rewritten, so the template's author gets an error.

promql-parser 0.12 prints label values and string literals without escaping them. So before
printing, every value is swapped for a placeholder of plain letters and digits. After
printing, each placeholder is replaced by the value as an escaped string literal. The result is
parsed again and must have the same syntax tree as the confined one, or the query is rejected.
"""

from __future__ import annotations

import secrets

import promql_parser

from canaryd.metrics import outcomes, promql

# Functions that read series without a selector in the query (Prometheus 3's info() reads
# target_info). promql-parser 0.12 does not know them, so this only guards a newer parser.
_IMPLICIT_SELECTION_FUNCTIONS = frozenset({"info"})


def parse(query: str) -> promql_parser.Expr:
    """Parse `query`, raising `TemplateRejected` with the parser's message on a syntax error."""
    try:
        return promql_parser.parse(query)
    except ValueError as error:
        raise outcomes.TemplateRejected(f"invalid PromQL: {error}", query=query) from error


def confine_to_namespace(query: str, *, namespace: str, label: str = "namespace") -> str:
    """Return `query` with every selector restricted to `label="namespace"`.

    Raises `TemplateRejected` when the query does not parse, matches `label` with another value
    or operator, uses `or` inside selector braces, or cannot be printed back faithfully.
    """
    promql.validate_label_name(label)
    expression = parse(query)
    _check_selectors(expression, query=query, namespace=namespace, label=label)

    placeholders = _Placeholders(forbidden_text=query)
    try:
        confined = promql_parser.transform(
            expression,
            post_visit=lambda node: _confine_node(node, placeholders, namespace=namespace, label=label),
        )
    except ValueError as error:
        # A selector whose printed form does not parse again, such as a quoted label name containing "{".
        raise outcomes.TemplateRejected(
            f"canaryd could not print a selector of this query back after adding the namespace matcher "
            f"({error}); use plain label names",
            query=query,
        ) from error
    text = placeholders.restore(str(confined), query=query)

    _check_round_trip(text, confined, placeholders, query=query)
    return text


def _check_selectors(expression: promql_parser.Expr, *, query: str, namespace: str, label: str) -> None:
    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.Call) and node.func.name in _IMPLICIT_SELECTION_FUNCTIONS:
            raise outcomes.TemplateRejected(
                f"function {node.func.name}() reads series outside the query's selectors and is not "
                "allowed in a namespaced template",
                query=query,
            )
        if not isinstance(node, promql_parser.VectorSelector):
            return
        if node.matchers.or_matchers:
            raise outcomes.TemplateRejected(
                f"selector {_describe(node)} uses 'or' inside braces, which cannot be confined to one "
                "namespace; write two selectors joined by the PromQL 'or' operator instead",
                query=query,
            )
        for matcher in node.matchers.matchers:
            if matcher.name != label:
                continue
            if matcher.op != promql_parser.MatchOp.Equal or matcher.value != namespace:
                raise outcomes.TemplateRejected(
                    f"selector {_describe(node)} matches "
                    f"{label}{_op_text(matcher.op)}{promql.quote_string(matcher.value)}; a template in "
                    f"namespace {namespace!r} may only read {label}={promql.quote_string(namespace)}. Remove "
                    f"the {label} matcher: canaryd adds it to every selector",
                    query=query,
                )

    promql_parser.walk(expression, pre_visit=visit)


class _Placeholders:
    """Stands in for string values while promql-parser prints the tree, which it does unescaped."""

    def __init__(self, *, forbidden_text: str) -> None:
        # A fresh random prefix, absent from the query, cannot collide with the template's text.
        prefix = f"canarydvalue{secrets.token_hex(8)}x"
        while prefix in forbidden_text:
            prefix = f"canarydvalue{secrets.token_hex(8)}x"
        self.prefix = prefix
        self.by_value: dict[str, str] = {}
        self.by_placeholder: dict[str, str] = {}

    def stand_in(self, value: str) -> str:
        if value not in self.by_value:
            placeholder = f"{self.prefix}{len(self.by_value)}"
            self.by_value[value] = placeholder
            self.by_placeholder[placeholder] = value
        return self.by_value[value]

    def restore(self, text: str, *, query: str) -> str:
        for placeholder, value in self.by_placeholder.items():
            quoted = f'"{placeholder}"'
            text = text.replace(quoted, promql.quote_string(value))
        if self.prefix in text:
            raise outcomes.TemplateRejected(
                "canaryd could not print this query back faithfully after adding the namespace "
                "matcher; simplify the query or report it as a bug",
                query=query,
            )
        return text


def _confine_node(
    node: promql_parser.Expr, placeholders: _Placeholders, *, namespace: str, label: str
) -> promql_parser.Expr | None:
    if isinstance(node, promql_parser.VectorSelector):
        kept = [
            promql_parser.Matcher(matcher.op, matcher.name, placeholders.stand_in(matcher.value))
            for matcher in node.matchers.matchers
            if matcher.name != label
        ]
        kept.append(
            promql_parser.Matcher(promql_parser.MatchOp.Equal, label, placeholders.stand_in(namespace))
        )
        node.matchers = promql_parser.Matchers(kept)
        # Returning the mutated node itself is read as "unchanged"; a re-parsed copy replaces it.
        return promql_parser.parse(str(node))
    if isinstance(node, promql_parser.StringLiteral):
        return promql_parser.parse(f'"{placeholders.stand_in(node.val)}"')
    return None


def _check_round_trip(
    text: str, confined: promql_parser.Expr, placeholders: _Placeholders, *, query: str
) -> None:
    """Parse the printed query and compare its tree with the confined one, placeholders and all."""
    reparsed = parse(text)

    def to_placeholders(node: promql_parser.Expr) -> promql_parser.Expr | None:
        if isinstance(node, promql_parser.VectorSelector):
            node.matchers = promql_parser.Matchers(
                [
                    promql_parser.Matcher(matcher.op, matcher.name, _known(placeholders, matcher.value))
                    for matcher in node.matchers.matchers
                ]
            )
            return promql_parser.parse(str(node))
        if isinstance(node, promql_parser.StringLiteral):
            return promql_parser.parse(f'"{_known(placeholders, node.val)}"')
        return None

    if repr(promql_parser.transform(reparsed, post_visit=to_placeholders)) != repr(confined):
        raise outcomes.TemplateRejected(
            "canaryd could not print this query back faithfully after adding the namespace matcher "
            f"(printed as {text!r}); simplify the query, for example give subqueries an explicit step",
            query=query,
        )


def _known(placeholders: _Placeholders, value: str) -> str:
    # A value that was not in the confined tree gets a placeholder that matches nothing in it.
    return placeholders.by_value.get(value, f"{placeholders.prefix}unknown")


def _describe(node: promql_parser.VectorSelector) -> str:
    return f"{node.name or ''}{{...}}" if node.name else "{...}"


def _op_text(op: promql_parser.MatchOp) -> str:
    # promql-parser's MatchOp members are not hashable, so no dict lookup.
    if op == promql_parser.MatchOp.NotEqual:
        return "!="
    if op == promql_parser.MatchOp.Re:
        return "=~"
    if op == promql_parser.MatchOp.NotRe:
        return "!~"
    return "="
