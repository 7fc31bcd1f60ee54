"""archsearch.ops."""
