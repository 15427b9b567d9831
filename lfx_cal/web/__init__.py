"""The feed server's HTTP side: feeds, the JSON API, metrics and the web page.

``add_routes(app, state)`` attaches the routes to the daemon's aiohttp
application; :class:`WebState` is what they read from the daemon.
"""

from lfx_cal.web.routes import FeedServer, WebState, add_routes

__all__ = ["FeedServer", "WebState", "add_routes"]
