"""archsearch.cli."""
