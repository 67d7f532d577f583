"""Test-only: on ``PYTHONPATH`` (tests/_kill.py puts it there for a kill-during-save run), every
Python process of that run, including each rank started by ``tools/dist_train.sh``, loads
``tests/_kill_during_save.py`` at start-up."""
import os

if os.environ.get('EVA_MM_TEST_KILL_DURING_SAVE'):
    import _kill_during_save  # noqa: F401
