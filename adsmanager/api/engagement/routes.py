from flask.views import MethodView

from adsmanager.api.common import Blueprint, database
from adsmanager.api.engagement.schemas import EngagementBatchResultSchema, EngagementBatchSchema
from adsmanager.db.base import utcnow
from adsmanager.services import engagement
from adsmanager.vocabulary import Role

blp = Blueprint(
    "engagement",
    __name__,
    url_prefix="/v1/engagement",
    description="Daily engagement per video, reported by the feed service for the creator fund.",
)


@blp.route("")
class Engagement(MethodView):
    @blp.requires(Role.FEED)
    @blp.arguments(EngagementBatchSchema())
    @blp.response(200, EngagementBatchResultSchema)
    def post(self, body):
        """Report up to 1000 video-days. Each (video_id, day) is upserted: the same numbers
        again change nothing (unchanged), new numbers replace the day (updated). An item
        that breaks a rule is written nothing and says why; the others are written."""
        results = engagement.ingest(database(), body["items"], utcnow())
        return {
            **engagement.tally(results),
            "results": [{"index": index, **vars(result)} for index, result in enumerate(results)],
        }
