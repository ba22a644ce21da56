"""Run the app under gunicorn from Python, as ``adsmanager serve`` does."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from adsmanager import create_app
        from adsmanager.serving import heap

        heap.enable()  # see adsmanager/serving/heap.py
        return create_app()


def run(*, host: str, port: int, workers: int) -> None:
    _Gunicorn({"bind": f"{host}:{port}", "workers": workers, "accesslog": None}).run()
