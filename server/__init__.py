"""palabre's server: the adapter around the pure core: gateway, HTTP, store, bus, scheduler."""
