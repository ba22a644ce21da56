"""The CTR model a worker prices with, swapped in when the registry's active model changes.

Each worker polls the registry's active version (one indexed row) every refresh period; a new
version is loaded off the request path and replaces the old one in a single assignment, so
requests in flight finish with the model they started with. A version that fails to load is
refused once, logged, and the previous model keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from adsmanager.db.database import Database
from adsmanager.services import ctr_models
from adsmanager.serving.background import poll_forever
from auction.ctr import CtrPredictor

log = logging.getLogger(__name__)


class ModelHolder:
    def __init__(
        self, db: Database, refresh_seconds: float, fallback: Callable[[], CtrPredictor]
    ) -> None:
        """``fallback`` gives the model to serve while the registry has no active one."""
        self._db = db
        self._refresh_seconds = refresh_seconds
        self._fallback = fallback
        self._predictor: CtrPredictor | None = None
        self._registry_version: str | None = None  # None while serving the fallback
        self._refused: set[str] = set()
        self._lock = threading.Lock()

    def current(self) -> CtrPredictor:
        if self._predictor is None:
            with self._lock:
                if self._predictor is None:
                    self._swap()
                    poll_forever("model-refresh", self._refresh_seconds, self.refresh)
        return self._predictor

    def refresh(self) -> bool:
        """Load the registry's active model if it is not the one serving; True if swapped."""
        self.current()
        with self._lock:
            return self._swap()

    def _swap(self) -> bool:
        version = ctr_models.active_version(self._db)
        if self._predictor is not None and (
            version == self._registry_version or version in self._refused
        ):
            return False
        new = self._fallback() if version is None else self._load(version)
        if new is None:  # refused: keep what serves, or start with the fallback
            if self._predictor is not None:
                return False
            new, version = self._fallback(), None
        self._predictor, self._registry_version = new, version
        log.info("serving CTR model %s", new.version)
        return True

    def _load(self, version: str) -> CtrPredictor | None:
        record = ctr_models.active(self._db)
        if record is None or record.version != version:
            return None  # changed again meanwhile: the next poll sees the newer one
        try:
            return ctr_models.load(record)
        except ValueError as error:
            self._refused.add(version)
            log.error("refused CTR model %s, keeping %s: %s", version, self._served(), error)
            return None

    def _served(self) -> str:
        return self._predictor.version if self._predictor is not None else "none"
