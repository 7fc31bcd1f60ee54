"""archsearch.spaces."""
