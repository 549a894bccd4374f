"""One module per AWS kind, and the registry that maps kind to driver."""
