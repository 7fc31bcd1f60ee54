"""archsearch.strategies."""
