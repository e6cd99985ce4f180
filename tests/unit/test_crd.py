"""The CRD in crds/ is generated from the models, and is structural."""

from pathlib import Path
from typing import Any

from aenv.api import crd

CRD_PATH = Path(__file__).parents[2] / "crds" / crd.CRD_FILE


def test_crd_file_is_current() -> None:
    assert CRD_PATH.read_text() == crd.render(), "crds/ is stale: run `make crd`"


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = []
    if isinstance(node, dict):
        out.append((path, node))
        for k, v in node.get("properties", {}).items():
            out += walk(v, f"{path}.{k}")
        if "items" in node:
            out += walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            out += walk(node["additionalProperties"], f"{path}{{}}")
    return out


def test_schema_is_structural() -> None:
    version = crd.crd()["spec"]["versions"][0]
    root = version["schema"]["openAPIV3Schema"]
    for path, node in walk(root):
        assert "type" in node, f"{path} has no type"
        for banned in ("$ref", "anyOf", "oneOf", "allOf", "default", "title", "$defs"):
            assert banned not in node, f"{path} carries {banned}"


def test_names_columns_and_status() -> None:
    spec = crd.crd()["spec"]
    assert spec["names"]["shortNames"] == ["aenv"]
    assert spec["names"]["plural"] == "analyticsenvironments"
    version = spec["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == ["Tier", "Phase", "Ready", "Expires", "USD/Month", "Age"]
    queues = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["queues"]
    assert queues["x-kubernetes-list-type"] == "map" and queues["x-kubernetes-list-map-keys"] == ["name"]
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert {"observedGeneration", "phase", "conditions", "queues", "resources", "connectionSecret"} <= set(status)


def test_no_category_shadows_a_short_name() -> None:
    # kubectl expands a category before it resolves a short name, so a category named like a short name
    # makes `kubectl get aenv` list every kind in that category.
    from aenv.api.quota import quota_crd

    names = [c["spec"]["names"] for c in (crd.crd(), quota_crd())]
    short = {s for n in names for s in n["shortNames"]}
    categories = {c for n in names for c in n.get("categories", [])}
    assert not short & categories
