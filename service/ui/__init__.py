"""The analysts' dashboard: pages under ``/ui`` on the analyst JSON APIs (issue 7).

:mod:`service.ui.routes` holds the router (sign-in, pages, overview figures, live
events), :mod:`service.ui.session` the in-memory session store, ``static/`` the
dashboard's own JavaScript and CSS and ``templates/`` its HTML shells.
"""
