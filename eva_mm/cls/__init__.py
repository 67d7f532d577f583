"""eva_mm.cls (task adapter package)."""
