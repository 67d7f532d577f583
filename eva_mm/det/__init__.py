"""eva_mm.det (task adapter package)."""
