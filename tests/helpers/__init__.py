"""Helpers shared by the test layers (tests/ is on sys.path via pytest's `pythonpath`)."""
