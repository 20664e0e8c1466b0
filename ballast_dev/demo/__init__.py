"""The demo's scenario pieces (charts, summary) kept out of scripts/ so they can be tested."""
