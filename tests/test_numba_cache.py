"""numba's cache sees a change in another file of a group: every file of the group is touched."""

from __future__ import annotations

import os

from bayeslead import numba_cache


def _mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.py"))}


def test_a_change_in_one_file_touches_every_file_of_its_group(tmp_path):
    (tmp_path / "caller.py").write_text("def f(): return g()\n")
    (tmp_path / "callee.py").write_text("def g(): return 1\n")
    old = 1_000_000_000 * 10**9  # 2001: any touch moves the times past it
    for path in tmp_path.glob("*.py"):
        os.utime(path, ns=(old, old))
    first = numba_cache.refresh_group(tmp_path, ("*.py",))  # no digest yet: refresh once
    assert [p.name for p in first] == ["callee.py", "caller.py"]
    assert all(t > old for t in _mtimes(tmp_path).values())
    for path in tmp_path.glob("*.py"):
        os.utime(path, ns=(old, old))
    assert numba_cache.refresh_group(tmp_path, ("*.py",)) == []  # unchanged: left alone
    assert set(_mtimes(tmp_path).values()) == {old}
    (tmp_path / "callee.py").write_text("def g(): return 2\n")
    os.utime(tmp_path / "callee.py", ns=(old, old))  # even with its old time and size
    assert len(numba_cache.refresh_group(tmp_path, ("*.py",))) == 2
    assert _mtimes(tmp_path)["caller.py"] > old  # the caller is recompiled too


def test_importing_bayeslead_refreshed_every_group():
    for folder, patterns in numba_cache.GROUPS.items():
        assert numba_cache.refresh_group(numba_cache.PACKAGE / folder, patterns) == []
