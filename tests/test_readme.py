"""README's promises: its spec reference matches the schema, and every shipped spec is listed."""

from conftest import ROOT, SPECS

from nnctl.spec.reference import BEGIN, END, reference

README = (ROOT / "README.md").read_text()


def test_spec_reference_is_current():
    block = README.split(BEGIN)[1].split(END)[0].strip()
    assert block == reference(), (
        "regenerate README's reference: python -m nnctl.spec.reference --write"
    )


def test_every_shipped_spec_has_a_measured_result():
    table = README.split("<!-- spec-results:begin -->")[1].split("<!-- spec-results:end -->")[0]
    for spec in SPECS:
        assert f"`{spec.name}`" in table, f"README's spec table lacks {spec.name}"
