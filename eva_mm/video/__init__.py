"""eva_mm.video (task adapter package)."""
