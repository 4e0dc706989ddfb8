"""Command-line interface: `canaryd` and its `kubectl canary` alias. Top layer: may import anything."""
