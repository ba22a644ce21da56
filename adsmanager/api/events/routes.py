from datetime import UTC, datetime

from flask.views import MethodView

from adsmanager.api.common import Blueprint, database, serving
from adsmanager.api.events.schemas import EventBatchResultSchema, EventBatchSchema
from adsmanager.services import events
from adsmanager.vocabulary import Role

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/v1/events",
    description="Impressions and clicks, reported with their tracking tokens.",
)


@blp.route("")
class Events(MethodView):
    @blp.requires(Role.FEED)
    @blp.arguments(EventBatchSchema())
    @blp.response(200, EventBatchResultSchema)
    def post(self, body):
        """Report up to 1000 events. Each token is charged at most once per event type; the
        result says, item by item, what happened."""
        runtime = serving()
        results = events.ingest(
            database(),
            runtime.counters,
            runtime.signer,
            [event["token"] for event in body["events"]],
            datetime.now(UTC),
        )
        counts = {
            status: sum(1 for r in results if r.status == status)
            for status in (events.ACCEPTED, events.DUPLICATE, events.INVALID)
        }
        return {
            "accepted": counts[events.ACCEPTED],
            "duplicates": counts[events.DUPLICATE],
            "invalid": counts[events.INVALID],
            "results": [{"index": index, **vars(result)} for index, result in enumerate(results)],
        }
