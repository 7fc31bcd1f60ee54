"""The archsearch command line: thin layers over the library."""
