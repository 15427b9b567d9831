"""Delivery backends: Slack, e-mail, console and an in-memory recorder (see issue 3)."""
