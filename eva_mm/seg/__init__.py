"""eva_mm.seg (task adapter package)."""
