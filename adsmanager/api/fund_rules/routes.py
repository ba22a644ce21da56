from flask.views import MethodView

from adsmanager.api.auth import actor
from adsmanager.api.common import Blueprint, database
from adsmanager.api.fund_rules.schemas import RulesChangeSchema, RulesVersionSchema
from adsmanager.db.base import utcnow
from adsmanager.services import fund_rules
from adsmanager.services.errors import NotFound
from adsmanager.vocabulary import Role

blp = Blueprint(
    "fund_rules",
    __name__,
    url_prefix="/v1/fund/rules",
    description="The creator fund's programme rules, as numbered versions.",
)


@blp.route("")
class Rules(MethodView):
    @blp.requires(Role.ADMIN, Role.FINANCE)
    @blp.response(200, RulesVersionSchema)
    def get(self):
        """The rules in force (the newest version)."""
        return fund_rules.current(database(), utcnow())

    @blp.requires(Role.ADMIN)
    @blp.arguments(RulesChangeSchema)
    @blp.response(201, RulesVersionSchema)
    def post(self, data):
        """A new version: the rules in force with the given fields changed. Runs computed
        from now on use it; each run records the version it used."""
        return fund_rules.change(database(), data["rules"], data["note"], actor(), utcnow())


@blp.route("/versions")
class Versions(MethodView):
    @blp.requires(Role.ADMIN, Role.FINANCE)
    @blp.response(200, RulesVersionSchema(many=True))
    def get(self):
        """Every version, newest first."""
        return fund_rules.versions(database(), utcnow())


@blp.route("/versions/<version>")
class Version(MethodView):
    @blp.requires(Role.ADMIN, Role.FINANCE)
    @blp.response(200, RulesVersionSchema)
    def get(self, version):
        """One version of the rules (1, 2, ...)."""
        if not (version.isascii() and version.isdigit() and len(version) < 10):
            raise NotFound("Fund rules version")
        return fund_rules.get(database(), int(version))
