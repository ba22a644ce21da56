"""Entry point for WSGI servers: ``gunicorn adsmanager.wsgi:app``."""

from adsmanager import create_app

app = create_app()
