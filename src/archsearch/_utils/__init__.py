"""archsearch._utils."""
