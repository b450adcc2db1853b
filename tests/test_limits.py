"""A spec is untrusted data: size limits hold before any weights exist; --build locates errors."""

from __future__ import annotations

import pytest

HUGE = """
name: huge
data: {source: digits}
model:
  layers:
    - Dense: 200000
    - Dense: 200000
    - Dense: 10
loss: mse
"""


@pytest.mark.slow
def test_parameter_limit_is_enforced_before_building(write_spec, cli):
    code, _, err = cli("validate", "--build", write_spec(HUGE))
    assert code == 2
    assert ":6:7: error: model.layers[1]: the model would have at least 40,013,200,000" in err
    assert "raise model.max_parameters" in err


@pytest.mark.slow
def test_parameter_limit_can_be_raised(write_spec, cli):
    small = HUGE.replace("200000", "20")
    code, _, err = cli(
        "validate", "--build", write_spec(small), "--set", "model.max_parameters=500"
    )
    assert code == 2
    assert "over model.max_parameters (500)" in err
    assert cli("validate", "--build", write_spec(small))[0] == 0


def test_too_many_layers(write_spec, cli):
    layers = "\n".join(["    - Dense: 2"] * 1001)
    code, _, err = cli("validate", write_spec(HUGE.split("  layers:")[0] + "  layers:\n" + layers))
    assert code == 2
    assert "model.layers" in err
    assert "1000" in err


def test_oversized_file_is_refused(tmp_path, cli):
    path = tmp_path / "big.yaml"
    path.write_text("name: x\n" + "#" * (1 << 20) + "\n")
    code, _, err = cli("validate", path)
    assert code == 2
    assert "limit for a spec" in err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layers", "fragment"),
    [
        ("[Dense: 16, {Conv2D: {filters: 4, kernel_size: 3}}]", "expects input of rank 4 or more"),
        ("[{Reshape: [7, 7]}]", "Reshape"),
    ],
)
def test_build_reports_shape_errors_at_the_layer(write_spec, cli, layers, fragment):
    spec = write_spec(HUGE.split("model:")[0] + f"model:\n  layers: {layers}\nloss: mse\n")
    code, _, err = cli("validate", "--build", spec)
    assert code == 2
    assert fragment in err
    assert ":4:" in err
    assert cli("validate", spec)[0] == 0  # plain validation does not build
