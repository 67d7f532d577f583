"""Shared test set-up: eva_mm imported first (registries + stack fixes), few threads."""
import os

import torch

os.environ.setdefault('OMP_NUM_THREADS', '2')
torch.set_num_threads(min(2, os.cpu_count() or 1))

import eva_mm  # noqa: E402,F401


import pytest  # noqa: E402


@pytest.fixture(scope='module')
def one_thread():
    """Many small ops: on the shared, loaded CPU one intra-op thread is much faster. Modules
    opt in with ``pytestmark = pytest.mark.usefixtures('one_thread')``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='module')
def unformatted_config_text():
    """mmengine formats a config's text with yapf 3-4 times per run (log, dump, message hub,
    visualizer): ~5 s each for the paper configs on a loaded CPU, most of a tiny run's time.
    Within this test process the text stays unformatted (the tools are unchanged). Modules
    that run the tools in-process opt in with ``pytestmark``."""
    import mmengine.config.config as mm_config
    original = mm_config.FormatCode
    mm_config.FormatCode = lambda text, **kwargs: (text, False)
    yield
    mm_config.FormatCode = original
