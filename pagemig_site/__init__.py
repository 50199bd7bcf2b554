"""pagemig's web site: runs simulations in the background and streams them live."""
