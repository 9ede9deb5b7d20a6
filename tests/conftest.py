import os

from hypothesis import HealthCheck, settings

# CI: reproducible examples, no per-example deadline on a shared, noisy machine.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# --- Tests touch only temporary folders (issue 12, item 13) --------------------------------
import pathlib

import pytest

_CLOSED_PORT_URL = "http://127.0.0.1:9/"  # nothing listens there: "connection refused"


def _snapshot(folder: pathlib.Path) -> dict[str, tuple[int, int]]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(autouse=True, scope="session")
def _only_temporary_folders(tmp_path_factory):
    """Point nndl's cache at a temporary folder and fail the run if the user's cache changed.

    NNDL_CACHE is set to a fresh temporary folder for the whole session (whatever the shell
    said), the mirrors to a closed local port unless a test sets its own (no test reaches
    the internet), and the user's real cache folder (platformdirs' user_cache_dir("nndl"),
    which nndl uses without NNDL_CACHE) must hold exactly the same files at the end.
    """
    import platformdirs

    real = pathlib.Path(platformdirs.user_cache_dir("nndl", appauthor=False))
    before = _snapshot(real)
    saved = {k: os.environ.get(k) for k in ("NNDL_CACHE", "NNDL_MIRRORS")}
    os.environ["NNDL_CACHE"] = str(tmp_path_factory.mktemp("nndl-cache"))
    os.environ["NNDL_MIRRORS"] = _CLOSED_PORT_URL
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    after = _snapshot(real)
    changed = sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))
    assert not changed, f"the tests wrote into the user's cache folder {real}: {changed[:5]}"
