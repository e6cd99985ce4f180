"""The ValidatingAdmissionPolicy (and its binding) that holds AnalyticsEnvironments to their namespace's
AnalyticsEnvironmentQuota, rendered from the tier presets and the price table.

The API server evaluates it (CEL, no webhook). CEL cannot call the Python estimator, so the policy carries the
price table and the tier defaults and computes the same estimate as cost/estimate.py from the spec being admitted:
a figure the user cannot write, unlike an annotation would be. A namespace without a quota is not constrained
(parameterNotFoundAction: Allow); with several, each applies.
"""

from __future__ import annotations

from typing import Any

import yaml

from ..api.crd import GROUP, PLURAL, VERSION
from ..api.quota import QUOTA_KIND, QUOTA_PLURAL
from ..api.tiers import PRESETS
from ..cost.prices import PriceTable, table
from ..plan import monitoring

NAME = f"{QUOTA_PLURAL}.{GROUP}"
POLICY_FILE = "admission-policy.yaml"
NONE = "{'none': 0.0}"  # the prices of a region the table lacks: none
S = "object.spec"


def _lit(value: Any) -> str:
    """A CEL literal of a str, bool, int, float, list or dict."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_lit(v) for v in value) + "]"
    return "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in value.items()) + "}"


def _tier_default(section: str, key: str, value_type: type) -> str:
    """`spec.<section>.<key>` as the spec gives it, else the tier's preset (tiers.py)."""
    by_tier = {tier: value_type(p[section][key]) for tier, p in PRESETS.items()}
    return f"(has({S}.{section}.{key}) ? {S}.{section}.{key} : {_lit(by_tier)}[{S}.tier])"


def usd(expr: str) -> str:
    """A CEL string of a non-negative USD amount to the cent: 1580.72."""
    cents = f"int(({expr}) * 100.0 + 0.5)"
    return f"string({cents} / 100) + '.' + ({cents} % 100 < 10 ? '0' : '') + string({cents} % 100)"


def _variables(prices: PriceTable) -> list[dict[str, str]]:
    regions = prices.regions
    rates = {name: {"storage": r.database_storage_gib_month, "s3": r.s3_standard_gib_month,
                     "sqsStandard": r.sqs_standard_per_million, "sqsFifo": r.sqs_fifo_per_million,
                     "snsStandard": r.sns_standard_per_million, "snsFifo": r.sns_fifo_per_million,
                     "gateway": (prices.baseline.gateway_messages_per_month * r.gateway_messages_per_million
                                 + prices.baseline.gateway_connection_minutes_per_month
                                 * r.gateway_connection_minutes_per_million) / 1_000_000,
                     "secret": r.secret_month, "kms": r.kms_key_month, "alarm": r.alarm_month,
                     "dashboard": r.dashboard_month} for name, r in regions.items()}
    base, hours = prices.baseline, float(prices.hours_per_month)
    queue_alarms, dlq_alarm, cache_alarms = len(monitoring.QUEUE), 1, len(monitoring.CACHE)
    fifo = "(has(x.fifo) && x.fifo)"
    dlq = "(!has(q.deadLetter) || !has(q.deadLetter.enabled) || q.deadLetter.enabled)"
    v = [
        ("region", f"{S}.aws.region"),
        ("priced", f"{S}.aws.region in {_lit(rates)}"),
        ("rates", f"variables.priced ? {_lit(rates)}[{S}.aws.region] : {NONE}"),
        ("cacheNodeType", f"has({S}.cache) ? {_tier_default('cache', 'nodeType', str)} : ''"),
        ("cacheNodes", f"has({S}.cache) ? 1 + {_tier_default('cache', 'replicas', int)} : 0"),
        ("instanceClass", f"has({S}.database) ? {_tier_default('database', 'instanceClass', str)} : ''"),
        ("databaseCopies", f"has({S}.database) ? ({_tier_default('database', 'multiAZ', bool)} ? 2 : 1) : 0"),
        ("storageGiB", f"has({S}.database) ? {_tier_default('database', 'storageGiB', int)} : 0"),
        ("backupRetention", f"has({S}.database) ? {_tier_default('database', 'backupRetentionDays', int)} : 0"),
        ("backupDays", f"has({S}.database) ? (variables.backupRetention > 0 ? variables.backupRetention : 1) : 0"),
        ("cacheTable", f"variables.priced ? {_lit({n: r.cache_node_hourly for n, r in regions.items()})}"
                       f"[{S}.aws.region] : {NONE}"),
        ("databaseTable", f"variables.priced ? {_lit({n: r.database_instance_hourly for n, r in regions.items()})}"
                          f"[{S}.aws.region] : {NONE}"),
        # A price, 0.0 without the section, -1.0 when the table lacks the value.
        ("cacheHourly", "variables.cacheNodeType in variables.cacheTable ? "
                        "variables.cacheTable[variables.cacheNodeType] : (variables.cacheNodeType == '' ? 0.0 : -1.0)"),
        ("databaseHourly", "variables.instanceClass in variables.databaseTable ? variables.databaseTable["
                           "variables.instanceClass] : (variables.instanceClass == '' ? 0.0 : -1.0)"),
        ("unpriced", "!variables.priced ? 'spec.aws.region: ' + variables.region : "
                     "variables.cacheHourly < 0.0 ? 'spec.cache.nodeType: ' + variables.cacheNodeType : "
                     "variables.databaseHourly < 0.0 ? 'spec.database.instanceClass: ' + variables.instanceClass : ''"),
        ("cacheUSD", f"variables.cacheHourly * {hours} * double(variables.cacheNodes) * "
                     f"{_lit(prices.engines)}[has({S}.cache) && has({S}.cache.engine) ? {S}.cache.engine : 'redis']"),
        ("databaseUSD", f"variables.databaseHourly * {hours} * double(variables.databaseCopies) + "
                        "double(variables.storageGiB * variables.databaseCopies) * variables.rates.storage"),
        ("queues", f"has({S}.queues) ? {S}.queues : []"),
        ("topics", f"has({S}.topics) ? {S}.topics : []"),
        ("secrets", f"(has({S}.cache) ? 1 : 0) + (has({S}.database) ? 2 : 0) + (has({S}.secrets) ? "
                    f"((!has({S}.secrets.jwt) || {S}.secrets.jwt) ? 1 : 0) + "
                    f"(has({S}.secrets.apiKeys) ? size({S}.secrets.apiKeys) : 0) : 0)"),
        ("alarms", f"has({S}.monitoring) && (!has({S}.monitoring.alarms) || {S}.monitoring.alarms) ? "
                   f"(has({S}.cache) ? {cache_alarms} : 0) + "
                   f"variables.queues.map(q, {queue_alarms} + ({dlq} ? {dlq_alarm} : 0)).sum() : 0"),
        ("dashboards", f"has({S}.monitoring) && (!has({S}.monitoring.dashboard) || {S}.monitoring.dashboard) && "
                       f"(has({S}.cache) || size(variables.queues) > 0 || has({S}.gateway)) ? 1 : 0"),
        ("otherUSD", " + ".join([
            f"double(variables.storageGiB * variables.backupDays) * {base.backup_dump_fraction_of_storage} "
            "* variables.rates.s3",
            f"variables.queues.map(x, {fifo} ? variables.rates.sqsFifo : variables.rates.sqsStandard).sum() * "
            f"{base.queue_requests_per_month / 1_000_000}",
            f"variables.topics.map(x, {fifo} ? variables.rates.snsFifo : variables.rates.snsStandard).sum() * "
            f"{base.topic_publishes_per_month / 1_000_000}",
            f"(has({S}.gateway) ? variables.rates.gateway : 0.0)",
            "double(variables.secrets) * variables.rates.secret",
            f"(has({S}.cache) || has({S}.database) || size(variables.queues) > 0 || size(variables.topics) > 0 || "
            f"has({S}.secrets) ? variables.rates.kms : 0.0)",
            "double(variables.alarms) * variables.rates.alarm",
            "double(variables.dashboards) * variables.rates.dashboard",
        ])),
        ("cost", "variables.cacheUSD + variables.databaseUSD + variables.otherUSD"),
        ("quota", f"'{QUOTA_KIND} ' + params.metadata.name"),
    ]
    return [{"name": name, "expression": expr} for name, expr in v]


def _ranked(field: str, variable: str, limit: str, ranks: tuple[str, ...]) -> dict[str, str]:
    """`field` (its tier default included) is at most the quota's `limit` in the ranking `ranks`."""
    order = _lit(list(ranks))
    default = (f"(has(object.{field}) ? '' : ' (the default of tier ' + {S}.tier + ')')")
    return {
        "expression": f"!has(params.spec.{limit}) || variables.{variable} == '' || "
                      f"({order}.indexOf(variables.{variable}) >= 0 && "
                      f"{order}.indexOf(variables.{variable}) <= {order}.indexOf(params.spec.{limit}))",
        "messageExpression": f"'{field}: ' + variables.{variable} + {default} + "
                             f"({order}.indexOf(variables.{variable}) < 0 ? ' is not one aenv ranks' : ' is larger') + "
                             f"' than {limit} ' + params.spec.{limit} + ' of ' + variables.quota + "
                             f"' allows in namespace ' + object.metadata.namespace",
        "reason": "Forbidden",
    }


def _validations(prices: PriceTable) -> list[dict[str, str]]:
    limit = "double(params.spec.maxMonthlyUSD)"
    return [
        {"expression": f"!has(params.spec.tiers) || {S}.tier in params.spec.tiers",
         "messageExpression": f"'spec.tier: ' + {S}.tier + ' is not among the tiers ' + variables.quota + "
                              "' allows in namespace ' + object.metadata.namespace + ' (spec.tiers: ' + "
                              "params.spec.tiers.join(', ') + ')'",
         "reason": "Forbidden"},
        _ranked("spec.cache.nodeType", "cacheNodeType", "maxCacheNodeType", prices.cache_node_types),
        _ranked("spec.database.instanceClass", "instanceClass", "maxDatabaseInstanceClass",
                prices.database_instance_classes),
        {"expression": "!has(params.spec.maxMonthlyUSD) || variables.unpriced != '' || "
                       f"variables.cost <= {limit}",
         "messageExpression": f"'spec: the estimated cost ' + {usd('variables.cost')} + ' USD/month (spec.cache ' + "
                              f"{usd('variables.cacheUSD')} + ', spec.database ' + {usd('variables.databaseUSD')} + "
                              f"', the rest ' + {usd('variables.otherUSD')} + ') is more than maxMonthlyUSD ' + "
                              f"{usd(limit)} + ' of ' + variables.quota + ' allows in namespace ' + "
                              "object.metadata.namespace",
         "reason": "Forbidden"},
        {"expression": "!has(params.spec.maxMonthlyUSD) || variables.unpriced == ''",
         "messageExpression": "variables.unpriced + ' has no price in aenv\\'s price table, so maxMonthlyUSD of ' + "
                              "variables.quota + ' cannot be checked: namespace ' + object.metadata.namespace + "
                              "' admits only priced environments'",
         "reason": "Forbidden"},
    ]


def policy(prices: PriceTable | None = None) -> list[dict[str, Any]]:
    prices = prices or table()
    return [{
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": NAME},
        "spec": {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": f"{GROUP}/{VERSION}", "kind": QUOTA_KIND},
            "matchConstraints": {"resourceRules": [{"apiGroups": [GROUP], "apiVersions": [VERSION],
                                                    "operations": ["CREATE", "UPDATE"], "resources": [PLURAL]}]},
            # Changes to the spec only: the operator's own writes (finalizers, annotations) and deletion are never
            # refused, also when a quota is tightened under environments that exist.
            "matchConditions": [{"name": "spec-changes", "expression":
                                 "!has(object.metadata.deletionTimestamp) && "
                                 "(request.operation == 'CREATE' || object.spec != oldObject.spec)"}],
            "variables": _variables(prices),
            "validations": _validations(prices),
        },
    }, {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": NAME},
        "spec": {
            "policyName": NAME,
            "validationActions": ["Deny"],
            # Every quota in the environment's own namespace; none there: allowed.
            "paramRef": {"selector": {}, "parameterNotFoundAction": "Allow"},
        },
    }]


def render(prices: PriceTable | None = None) -> str:
    header = ("# Generated by `aenv admission-policy` from operator/aenv/quota/policy.py, the tier presets and the "
              "price table: do not edit by hand.\n")
    return header + "---\n".join(yaml.safe_dump(d, sort_keys=False, width=120) for d in policy(prices))
