"""One module per page kind; each returns the pages and files it makes."""
