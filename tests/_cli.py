"""Run eva_mm's command-line tools (``tools/*.py``) in the test process, as from a shell."""
import importlib.util
import os.path as osp
import sys
from typing import List

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_tool(script: str, argv: List[str]):
    """``python tools/<script> *argv`` in this process; returns what its ``main()`` returns
    (``tools/test.py``: the metrics). ``SystemExit`` propagates (a clear error of the tool)."""
    path = osp.join(ROOT, 'tools', script)
    spec = importlib.util.spec_from_file_location(
        'eva_mm_tools_' + osp.basename(script)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    old = sys.argv
    sys.argv = [path, *argv]
    try:
        return mod.main()
    finally:
        sys.argv = old


def run_dist_train(config: str, procs: int = 2, args: List[str] = (), timeout: float = 400):
    """``bash tools/dist_train.sh CONFIG procs *args`` (CPU: gloo; a free port is picked) in
    the current directory; fails the test with the output's tail unless it exits 0. Returns
    the completed process."""
    import os
    import subprocess
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PORT', None)
    r = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config, str(procs),
                        *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r


def load_data_tool(name: str):
    """``tools/data/<name>.py`` as a module (the folder's other tools importable by it, as
    when it runs as a script)."""
    import importlib.util
    folder = osp.join(ROOT, 'tools', 'data')
    spec = importlib.util.spec_from_file_location(name, osp.join(folder, name + '.py'))
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(folder)
    return mod
