"""Shared test set-up: eva_mm imported first (registries + stack fixes), few threads."""
import os

import torch

os.environ.setdefault('OMP_NUM_THREADS', '2')
torch.set_num_threads(min(2, os.cpu_count() or 1))

import eva_mm  # noqa: E402,F401
