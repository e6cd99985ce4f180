"""Web: GET a URL that answers JSON, and judge the value at jsonPath (JSONPath as jsonpath-ng reads it,
filters included: `$.data.errorRate`, `$.items[0].value`, `$.checks[?(@.name == 'db')].ok`).

What the conditions see as `result`: the value at the path (a double for a JSON float, an int for a JSON
integer, a string, a bool, a map or a list), or the list of values when the path matches several. A path
that matches nothing, a reply that is not JSON, or an HTTP status other than 2xx is an error. The whole
exchange is bounded by the metric's web.timeoutSeconds.
"""

from __future__ import annotations

import threading
from datetime import datetime
from functools import lru_cache

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse
from jsonpath_ng.jsonpath import JSONPath

from ...api.rollout import Metric
from .base import MeasurementError, MetricMeasurement, Result, error, judge
from .http import get_json, redact

_parse_lock = threading.Lock()


@lru_cache(maxsize=256)
def _path(expression: str) -> JSONPath:
    with _parse_lock:  # the ply-based parser is not safe to share between threads
        return parse(expression)


class WebProvider:
    def measure(self, metric: Metric, now: datetime) -> MetricMeasurement:
        web = metric.web
        if web is None:
            raise ValueError(f"metric {metric.name} has no web query")
        try:
            path = _path(web.json_path)
        except (JSONPathError, ValueError) as e:
            return error(f"web: jsonPath {web.json_path!r} is not valid JSONPath: {e}")
        try:
            result = self.fetch(web.url, path, web.json_path, web.timeout_seconds)
        except MeasurementError as e:
            return error(f"web: {e}")
        return judge(metric, result, "web")

    @staticmethod
    def fetch(url: str, path: JSONPath, path_text: str, timeout: float) -> Result:
        status, reply = get_json(url, timeout)
        if not 200 <= status < 300:
            raise MeasurementError(f"{redact(url)} answered HTTP {status}")
        found = [match.value for match in path.find(reply)]
        if not found:
            raise MeasurementError(f"jsonPath {path_text!r} matches nothing in the reply from {redact(url)}")
        value: Result = found[0] if len(found) == 1 else found
        return value
