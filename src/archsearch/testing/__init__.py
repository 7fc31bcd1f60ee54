"""archsearch.testing."""
