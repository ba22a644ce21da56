"""Entry point for WSGI servers: ``gunicorn adsmanager.wsgi:app``."""

from adsmanager import create_app
from adsmanager.serving import heap

heap.enable()  # a serving process: its snapshots stay out of the collector's walks
app = create_app()
