"""archsearch.evaluators."""
