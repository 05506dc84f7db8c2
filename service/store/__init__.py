"""Synchronous data access for the analyst API and the dashboard.

Pure functions taking a ``redis.Redis`` client and a :class:`~service.redis_keys.Keys`;
they return plain dicts and lists. Reads are pipelined and paginated (``offset`` /
``limit``); nothing here runs ``KEYS`` or ``SCAN``. Modules:

* :mod:`service.store.alerts` - list, read and triage alerts (acknowledge, resolve,
  false positive, notes);
* :mod:`service.store.accounts` - accounts by risk, one account's verdict, features,
  history, and analyst decisions (confirmed block);
* :mod:`service.store.clusters` - linked clusters and their members;
* :mod:`service.store.blocklist` - accounts gateways should block.
"""

from service.store.common import Conflict, NotFound, StoreError

__all__ = ["Conflict", "NotFound", "StoreError"]
