"""Test support shared by every test folder: helper libraries per domain (imported as
``tests.support.<name>``; pyproject's pytest ``pythonpath = ["."]`` makes ``tests`` importable)."""
