"""Tutorial notebooks run top to bottom on the embedded model (integration tier)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.integration
NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    # everything a notebook writes goes into the folder it names, not beside the notebook
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outputs"]
    out = tmp_path / "outputs"
    # the trace cell printed a FeatureTrace with both documents
    text = "".join(
        str(o.get("data", {}).get("text/plain", "")) for c in nb.cells for o in c.get("outputs", [])
    )
    if path.name == "quickstart.ipynb":
        assert "FeatureTrace(2 docs" in text
        page = out / "quickstart-heatmap.html"
        assert page.is_file() and "saew-bundle" in page.read_text()
    if path.name == "dashboards.ipynb":
        assert "FeatureStats(blocks.9.hook_resid_post, 4608 features" in text
        for name in ("dashboard.html", "browser.html"):
            assert "saew-bundle" in (out / name).read_text()
    if path.name == "steering.ipynb":
        assert "SteeringResult(2 interventions, 24 tokens" in text
        assert "saew-bundle" in (out / "steering.html").read_text()
    if path.name == "attribution.ipynb":
        assert "AttributionGraph('Fact: the capital of France is'" in text
        assert "target: ' Paris'" in "".join(
            o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
        )
        assert "saew-bundle" in (out / "paris-graph.html").read_text()
        assert (out / "paris-graph.json").is_file()
    if path.name == "probing.ipynb":
        assert "linear (all dimensions)" in text and "sparse (top 20 SAE features)" in text
        printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
        assert "unsteered: P(positive)" in printed and "probe direction" in printed
    if path.name == "quickstart.ipynb":
        assert (out / "quickstart-workspace.json").is_file()
