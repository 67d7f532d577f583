"""eva_mm.pretrain (task adapter package)."""
