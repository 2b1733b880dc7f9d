"""The kernels' PyTensor cache key follows their source: an edited kernel is never served from
an old cache (PyTensor keys compiled wrappers by Op type, props and an integer only)."""

from __future__ import annotations

from pathlib import Path

from bayeslead.bayes.kernels import missing_op, ops, ram, twolevel, twolevel_blanks
from bayeslead.bayes.kernels.version import CACHE_VERSION, source_version


def test_every_op_uses_the_digest_of_the_kernels_folder():
    folder = Path(ops.__file__).parent
    assert source_version(folder) == CACHE_VERSION
    for module in (ops, missing_op, ram, twolevel, twolevel_blanks):
        assert module.CACHE_VERSION == CACHE_VERSION


def test_any_change_of_a_file_gives_a_new_version(tmp_path):
    (tmp_path / "kernel.py").write_text("def f(x):\n    return x + 1\n")
    (tmp_path / "op.py").write_text("VERSION = 1\n")
    first = source_version(tmp_path)
    assert 0 < first < 2**60
    assert source_version(tmp_path) == first
    (tmp_path / "kernel.py").write_text("def f(x):\n    return x + 2\n")
    second = source_version(tmp_path)
    assert second != first
    (tmp_path / "helper.py").write_text("")  # a new file counts too
    assert source_version(tmp_path) not in (first, second)
