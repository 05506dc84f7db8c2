"""Offline audit over log exports: the streaming path's twin, without Redis."""
