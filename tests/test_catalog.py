"""The checked-in Keras catalogue must match the installed Keras."""

from nnctl.spec import catalog_gen


def test_catalog_matches_installed_keras():
    generated = catalog_gen.generate()
    stored = catalog_gen.json.loads(catalog_gen.CATALOG_PATH.read_text())
    assert stored == generated, (
        "nnctl/spec/keras_catalog.json is stale: run `python -m nnctl.spec.catalog_gen`"
    )
