"""The parameter table: std.lv draws moved to lavaan's marker metric."""

from __future__ import annotations

import numpy as np

from bayeslead.config import RunConfig
from bayeslead.core.from_config import build_spec
from bayeslead.core.ml import fit_ml
from bayeslead.core.partable import build_partable, marker_scales, rescale
from tests.conftest import reference_row, reference_table

SERIAL = {k: [f"{k.lower()}{i}" for i in range(1, 5)] for k in ["TL", "SENS", "SEIZ", "RECO", "BI"]}


PATHS = {"SENS": ["TL"], "SEIZ": ["SENS", "TL"], "RECO": ["SEIZ"], "BI": ["RECO", "TL"]}


def test_std_lv_draws_convert_to_lavaan_marker_metric():
    """Closed form: the std.lv ML solution rescaled to the marker metric is the marker ML
    solution (which matches lavaan's estimates.csv)."""
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    std, marker = build_partable(spec, "std.lv"), build_partable(spec)
    x = reference_table("serial_mediation", "data.csv")[list(spec.manifest)].to_numpy(float)
    cov = np.cov(x.T, bias=True)
    a = fit_ml(marker, cov, marker.start_values(cov)).theta
    b = fit_ml(std, cov, std.start_values(cov)).theta
    np.testing.assert_allclose(rescale(std, marker, b, marker_scales(std, b)), a, atol=1e-5)
    est = reference_table("serial_mediation", "estimates.csv")
    converted = rescale(std, marker, b, marker_scales(std, b))
    np.testing.assert_allclose(
        converted[marker.index("SENS ~ TL")], reference_row(est, "SENS", "~", "TL").est, atol=0.002
    )


def test_rescale_reads_the_free_entries_as_the_whole_scaled_matrices_give_them():
    """`rescale_matrices` scales only the free entries; the values equal, bit for bit, those
    read from the whole matrices scaled as A c_i / c_j and S c_i c_j (a batch of draws, and
    one vector of scales for every draw)."""
    spec = build_spec(RunConfig(name="s", constructs=SERIAL, paths=PATHS))
    std, marker = build_partable(spec, "std.lv"), build_partable(spec)
    rng = np.random.default_rng(5)
    theta = rng.uniform(0.3, 1.2, size=(3, 7, std.n_free))
    a, s = std.matrices(theta)
    for c in (marker_scales(std, theta, rng.uniform(0.5, 2.0, 20)), rng.uniform(0.5, 2, 25)):
        a2 = a * c[..., :, None] / c[..., None, :]
        s2 = s * c[..., :, None] * c[..., None, :]
        expected = np.empty((3, 7, marker.n_free))
        for p in marker.free_params:
            expected[..., p.free] = (a2 if p.matrix == "A" else s2)[..., p.row, p.col]
        np.testing.assert_array_equal(rescale(std, marker, theta, c), expected)


def test_interaction_is_a_product_variable_with_a_coefficient():
    """`Y ~ M:W` is an "interaction" row of A on a product variable after the latents, whose
    marker scale is the product of its components' scales."""
    constructs = {k: [f"{k.lower()}{i}" for i in range(1, 4)] for k in "XMWY"}
    paths = {"M": ["X"], "Y": ["M", "W", "M:W", "X"]}
    spec = build_spec(RunConfig(name="q", constructs=constructs, paths=paths))
    table = build_partable(spec, "std.lv")
    assert table.variables[-1] == "M:W" and len(table.variables) == 12 + 4 + 1
    gamma = table.find("Y", "~", "M:W")
    assert gamma.kind == "interaction" and gamma.label == "Y_on_M_x_W" and gamma.free >= 0
    assert table.products == ((16, 13, 14),)
    theta = np.full(table.n_free, 0.5)
    scales = marker_scales(table, theta, np.full(12, 2.0))
    assert scales[16] == scales[13] * scales[14] == 1.0
    assert np.all(table.implied(theta)[16] == 0)  # the linear part: no product moments
