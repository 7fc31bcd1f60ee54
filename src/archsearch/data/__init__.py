"""archsearch.data."""
