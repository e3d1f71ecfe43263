"""Load and latency benchmarks of the news listing (issue 2); not tests. Run with `make bench`."""
