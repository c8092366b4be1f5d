"""Infrastructure kernel: settings, database, errors, auth primitives, logging, queue client."""
