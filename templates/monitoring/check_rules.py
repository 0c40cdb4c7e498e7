#!/usr/bin/env python3
"""Offline check of vdr's Prometheus rules, their tests and the Grafana dashboard.

Usage: check_rules.py [DIR]   (DIR defaults to this file's directory)

Runs without promtool. It validates structure and PromQL sanity, and that
rules, tests and dashboard only use the metrics and labels in README.md's
metric table (the contract with the Rust side). It does not evaluate PromQL:
`promtool test rules` is what proves the alerts fire. Exit 0 when clean,
1 with one line per problem otherwise.
"""
import json
import os
import re
import sys

import yaml

DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
METRIC = re.compile(r"\bvdr_[a-z0-9_]+\b")
# metric{label matchers}
SELECTOR = re.compile(r"\b(vdr_[a-z0-9_]+)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*\"")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
RANGE = re.compile(r"\[([^\]]+)\]")
TEMPLATE = re.compile(r"\{\{(.*?)\}\}")
LABEL_REF = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")
SEVERITIES = {"critical", "warning", "info"}
PROM_LABELS = {"__name__", "instance", "alertname"}

problems = []


def problem(where, msg):
    problems.append(f"{where}: {msg}")


def metric_table(readme):
    """Parse `| `vdr_x` | type | `a`, `b` | meaning |` rows of README.md."""
    table = {}
    for line in open(readme, encoding="utf-8"):
        m = re.match(r"^\|\s*`(vdr_[a-z0-9_]+)`\s*\|\s*(\w+)\s*\|([^|]*)\|", line)
        if m:
            labels = set(re.findall(r"`([a-z_]+)`", m.group(3)))
            table[m.group(1)] = {"type": m.group(2), "labels": labels}
    if not table:
        problem(readme, "no metric table found")
    return table


def strip_strings(expr):
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def check_promql(where, expr, table, is_alert):
    if not isinstance(expr, str) or not expr.strip():
        problem(where, "expr is empty")
        return set()
    if expr.count('"') % 2:
        problem(where, "unbalanced double quotes")
    bare = strip_strings(expr)
    stack = []
    pairs = {")": "(", "]": "[", "}": "{"}
    for ch in bare:
        if ch in "([{":
            stack.append(ch)
        elif ch in ")]}":
            if not stack or stack.pop() != pairs[ch]:
                problem(where, f"unbalanced '{ch}'")
                break
    else:
        if stack:
            problem(where, f"unclosed '{stack[-1]}'")
    for r in RANGE.findall(bare):
        r = r.strip()
        if ":" in r:  # subquery [range:step]
            rng, _, step = r.partition(":")
            parts = [rng.strip()] + ([step.strip()] if step.strip() else [])
        else:
            parts = [r]
        for p in parts:
            if not DURATION.match(p) and p != "$__rate_interval":
                problem(where, f"invalid range duration [{r}]")
    metrics = set(METRIC.findall(bare))
    labels_in_expr = set()
    for name in metrics:
        if name not in table:
            problem(where, f"metric {name} is not in README.md's metric table")
    for name, body in SELECTOR.findall(expr):
        for label, _op in MATCHER.findall(body):
            labels_in_expr.add(label)
            if name in table and label not in table[name]["labels"] | PROM_LABELS:
                problem(where, f"{name} has no label '{label}'")
    known = set().union(*(table[m]["labels"] for m in metrics if m in table)) if metrics else set()
    for grp in GROUPING.findall(bare):
        for label in [g.strip() for g in grp.split(",") if g.strip()]:
            if label not in known | PROM_LABELS:
                problem(where, f"grouping label '{label}' not carried by {sorted(metrics)}")
    for name in metrics:
        if name in table and table[name]["type"] == "counter" and not re.search(
            r"\b(rate|irate|increase|resets|changes)\s*\(\s*" + name, bare
        ):
            problem(where, f"counter {name} used without rate()/increase()")
    if is_alert and not re.search(r"(>|<|==|!=|>=|<=)|\babsent(_over_time)?\s*\(", bare):
        problem(where, "alert expression compares against no threshold")
    return known


def check_rules(path, table):
    try:
        doc = yaml.safe_load(open(path, encoding="utf-8"))
    except Exception as e:  # noqa: BLE001 - report any parse error
        problem(path, f"YAML: {e}")
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list) or not doc["groups"]:
        problem(path, "top level must be a mapping with a non-empty 'groups' list")
        return {}
    alerts = {}
    group_names = set()
    for gi, group in enumerate(doc["groups"]):
        gw = f"{path}: group[{gi}]"
        if set(group) - {"name", "interval", "rules", "limit", "query_offset"}:
            problem(gw, f"unknown keys {sorted(set(group) - {'name', 'interval', 'rules', 'limit', 'query_offset'})}")
        name = group.get("name")
        if not name:
            problem(gw, "group without name")
        elif name in group_names:
            problem(gw, f"duplicate group name {name}")
        group_names.add(name)
        if "interval" in group and not DURATION.match(str(group["interval"])):
            problem(gw, "invalid interval")
        for ri, rule in enumerate(group.get("rules") or []):
            rw = f"{gw} rule[{ri}] {rule.get('alert') or rule.get('record')}"
            allowed = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
            if set(rule) - allowed:
                problem(rw, f"unknown keys {sorted(set(rule) - allowed)}")
            is_alert = "alert" in rule
            if is_alert == ("record" in rule):
                problem(rw, "exactly one of 'alert' and 'record' is required")
                continue
            known_labels = check_promql(rw, rule.get("expr"), table, is_alert)
            if not is_alert:
                if not re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", rule["record"]):
                    problem(rw, "invalid record name")
                if "for" in rule or "annotations" in rule:
                    problem(rw, "recording rules take no 'for' or 'annotations'")
                continue
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", rule["alert"]):
                problem(rw, "invalid alert name")
            if rule["alert"] in alerts:
                problem(rw, "duplicate alert name")
            if "for" in rule and not DURATION.match(str(rule["for"])):
                problem(rw, f"invalid 'for' {rule['for']!r}")
            labels = rule.get("labels") or {}
            if labels.get("severity") not in SEVERITIES:
                problem(rw, f"labels.severity must be one of {sorted(SEVERITIES)}")
            ann = rule.get("annotations") or {}
            for key in ("summary", "description"):
                if not ann.get(key):
                    problem(rw, f"annotations.{key} missing")
            # absent() keeps the equality matchers of its selector as labels
            expr_labels = known_labels
            if re.search(r"\babsent\s*\(", rule.get("expr", "")):
                expr_labels = {lbl for _n, body in SELECTOR.findall(rule["expr"]) for lbl, op in MATCHER.findall(body) if op == "="}
            for key, text in ann.items():
                for tmpl in TEMPLATE.findall(str(text)):
                    for label in LABEL_REF.findall(tmpl):
                        if label not in expr_labels | set(labels):
                            problem(rw, f"annotation {key} uses $labels.{label}, which the expression does not carry")
                if str(text).count("{{") != str(text).count("}}"):
                    problem(rw, f"annotation {key} has unbalanced '{{{{ }}}}'")
            alerts[rule["alert"]] = rule
    return alerts


def check_tests(path, rules_file, alerts):
    try:
        doc = yaml.safe_load(open(path, encoding="utf-8"))
    except Exception as e:  # noqa: BLE001
        problem(path, f"YAML: {e}")
        return
    if os.path.basename(rules_file) not in [os.path.basename(f) for f in doc.get("rule_files", [])]:
        problem(path, f"rule_files does not include {os.path.basename(rules_file)}")
    fired = set()
    silent = set()
    for ti, test in enumerate(doc.get("tests") or []):
        tw = f"{path}: tests[{ti}]"
        if not test.get("input_series"):
            problem(tw, "no input_series")
        for si, s in enumerate(test.get("input_series") or []):
            if not s.get("series") or "values" not in s:
                problem(f"{tw} input_series[{si}]", "needs series and values")
        for ai, case in enumerate(test.get("alert_rule_test") or []):
            cw = f"{tw} alert_rule_test[{ai}]"
            name = case.get("alertname")
            if name not in alerts:
                problem(cw, f"alert {name!r} is not defined in the rules")
                continue
            if not DURATION.match(str(case.get("eval_time", ""))):
                problem(cw, "invalid eval_time")
            exp = case.get("exp_alerts") or []
            (fired if exp else silent).add(name)
            for ea in exp:
                lbl = ea.get("exp_labels") or {}
                sev = alerts[name].get("labels", {}).get("severity")
                if lbl.get("severity") != sev:
                    problem(cw, f"expected severity {lbl.get('severity')!r} but the rule sets {sev!r}")
    for name in sorted(set(alerts) - fired):
        problem(path, f"alert {name} has no test case in which it fires")
    for name in sorted(set(alerts) - silent):
        problem(path, f"alert {name} has no test case in which it stays silent")


def check_dashboard(path, table):
    try:
        dash = json.load(open(path, encoding="utf-8"))
    except Exception as e:  # noqa: BLE001
        problem(path, f"JSON: {e}")
        return
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 39:
        problem(path, "schemaVersion must be >= 39")
    for key in ("title", "uid", "panels", "templating"):
        if key not in dash:
            problem(path, f"missing {key}")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problem(path, "needs a templated 'datasource' variable of type datasource/prometheus")
    ids = set()
    used = set()
    flat = []
    for p in dash.get("panels", []):
        flat.append(p)
        flat.extend(p.get("panels", []))
    for p in flat:
        pw = f"{path}: panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            problem(pw, "duplicate id")
        ids.add(p.get("id"))
        gp = p.get("gridPos", {})
        if not all(isinstance(gp.get(k), int) for k in "hwxy") or gp.get("x", 0) + gp.get("w", 0) > 24:
            problem(pw, "invalid gridPos")
        if p.get("type") == "row":
            continue
        if (p.get("datasource") or {}).get("uid") != "${datasource}":
            problem(pw, "panel data source must be ${datasource}")
        if not p.get("targets"):
            problem(pw, "no targets")
        for t in p.get("targets", []):
            if (t.get("datasource") or {}).get("uid") != "${datasource}":
                problem(pw, "target data source must be ${datasource}")
            expr = t.get("expr", "")
            used |= set(METRIC.findall(expr))
            check_promql(pw, expr, table, is_alert=False)
    for v in variables.values():
        if v.get("type") == "query":
            q = v.get("definition") or ""
            for name in METRIC.findall(q):
                if name not in table:
                    problem(f"{path}: variable {v.get('name')}", f"unknown metric {name}")
    for name in sorted(set(table) - used):
        problem(path, f"no panel shows {name}")


def main():
    here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    rules = os.path.join(here, "vdr-alerts.yml")
    table = metric_table(os.path.join(here, "README.md"))
    alerts = check_rules(rules, table)
    check_tests(os.path.join(here, "vdr-alerts.test.yml"), rules, alerts)
    check_dashboard(os.path.join(here, "vdr-dashboard.json"), table)
    for p in problems:
        print(f"FAIL {p}")
    if problems:
        print(f"offline check: {len(problems)} problem(s)")
        return 1
    print(f"offline check: OK ({len(table)} metrics in README table, {len(alerts)} alerts, rules/tests/dashboard consistent)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
