"""The AnalyticsEnvironmentQuota CRD in crds/ and the chart is generated from its model, and ranks what the price
table ranks."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from aenv.api import quota
from aenv.cost.prices import table

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize("where", ["crds", "charts/aenv/crds"])
def test_quota_crd_files_are_current(where: str) -> None:
    assert (REPO / where / quota.QUOTA_CRD_FILE).read_text() == quota.render_quota_crd(), \
        f"{where} is stale: run `make crd`"


def test_limits_are_the_ranked_names_of_the_price_table() -> None:
    spec = quota.quota_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["maxCacheNodeType"]["enum"] == list(table().cache_node_types)
    assert spec["maxDatabaseInstanceClass"]["enum"] == list(table().database_instance_classes)
    assert spec["tiers"]["items"]["enum"] == ["dev", "staging", "prod"]
    assert set(spec) == {"tiers", "maxCacheNodeType", "maxDatabaseInstanceClass", "maxMonthlyUSD"}


def test_the_model_refuses_an_unranked_node_type_naming_it() -> None:
    with pytest.raises(ValidationError, match=r"cache\.x9\.huge is not a cache node type aenv ranks"):
        quota.QuotaSpec.model_validate({"maxCacheNodeType": "cache.x9.huge"})
    assert quota.QuotaSpec.model_validate({"maxMonthlyUSD": 250}).max_monthly_usd == 250
