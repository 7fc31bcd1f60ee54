"""archsearch.storage."""
