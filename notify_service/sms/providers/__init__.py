"""SMS providers behind one interface, and the pool that fails over between them."""
