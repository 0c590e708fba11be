"""Private APIs of our dependencies, each behind one small adapter, so a version bump breaks here
(and in tests/test_adapters.py) and nowhere else. Nothing outside this package touches them."""
