"""Test-only: imported by a training run (``custom_imports``) whose environment names a
checkpoint file in ``EVA_MM_TEST_KILL_DURING_SAVE``; that run SIGKILLs itself after writing
half of that file's bytes to disk (through eva_mm's atomic write, compat fix 10), i.e. as if the
job were killed in the middle of the save. Used by ``tests/_kill.py``."""
import os
import signal
import sys
import tempfile

import eva_mm.compat as compat

_TARGET = os.environ.get('EVA_MM_TEST_KILL_DURING_SAVE')
_real_atomic_write = compat.atomic_write


def _dying_atomic_write(path: str, data: bytes) -> None:
    if os.path.basename(path) != _TARGET:
        return _real_atomic_write(path, data)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{os.path.basename(path)}.', suffix='.tmp')
    with os.fdopen(fd, 'wb') as f:
        f.write(data[:len(data) // 2])
        f.flush()
        os.fsync(f.fileno())
    print(f'_kill_during_save: killing itself while writing {path} '
          f'({len(data) // 2} of {len(data)} bytes written)', file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if _TARGET:
    compat.atomic_write = _dying_atomic_write
