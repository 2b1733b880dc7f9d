"""Run folders: files another library writes itself."""

from __future__ import annotations

import json

import arviz as az
import numpy as np

from bayeslead.runs import RunFolder


def test_write_netcdf_stores_dict_attributes_as_json(tmp_path):
    """nutpie >= 0.16.9 stores its settings as a dict attribute (top level), which netCDF
    refuses."""
    idata = az.from_dict(posterior={"a": np.zeros((2, 5))})
    settings = {"sampler": "nuts", "settings": {"num_draws": 5, "store_gradient": False}}
    idata.attrs["sample_stats"] = {"inference_library": "nutpie", "settings": settings}
    idata.posterior.attrs.update(inference_library_settings=settings, created_by=None, n=3)
    folder = RunFolder(tmp_path, "run", "0123456789")
    saved = az.from_netcdf(str(folder.write_netcdf("idata.nc", idata)))
    assert json.loads(saved.attrs["sample_stats"])["settings"] == settings
    attrs = saved.posterior.attrs
    assert json.loads(attrs["inference_library_settings"]) == settings
    assert attrs["created_by"] == "null" and attrs["n"] == 3
