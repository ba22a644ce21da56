"""``adsmanager ...``: thin commands over the services, for operators and bootstrap."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from alembic.util import CommandError as AlembicCommandError

from adsmanager.config import ConfigError, Settings
from adsmanager.db import Database, migrate
from adsmanager.services import api_keys
from adsmanager.services.access import Actor
from adsmanager.services.errors import ServiceError
from adsmanager.vocabulary import Role

CLI_ACTOR = Actor(id="cli", role=Role.ADMIN)


class _UtcMoment(click.ParamType):
    """ISO 8601, with an offset or without one (then UTC): an aware time in UTC."""

    name = "ISO-8601 time"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            moment = value
        else:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                self.fail(f"{value!r} is not an ISO 8601 time, e.g. 2026-11-29T08:00Z", param, ctx)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UTC_MOMENT = _UtcMoment()


def _settings() -> Settings:
    return Settings.from_env()


class _Commands(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ConfigError, AlembicCommandError) as error:  # a setting, a revision
            raise click.ClickException(str(error)) from None
        except OSError as error:  # a file to read or write: say which, without a traceback
            if error.filename is None:
                raise
            raise click.ClickException(f"{error.filename}: {error.strerror}") from None


@click.group(cls=_Commands)
def main() -> None:
    """Ads Manager and creator-fund backend."""


# --- database ------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Schema migrations (Alembic)."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head)."""
    migrate.upgrade(_settings().database_url, revision)


@db.command(context_settings={"ignore_unknown_options": True})  # "-1" is a revision
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Migrate the database down to REVISION ('base' empties it; '-1' is one step)."""
    migrate.downgrade(_settings().database_url, revision)


@db.command()
def current() -> None:
    """Print the database's revision and whether it is at head."""
    database = Database(_settings().database_url)
    revisions = migrate.current_revisions(database.engine)
    heads = migrate.head_revisions()
    state = "at head" if revisions == heads else f"head is {', '.join(sorted(heads))}"
    click.echo(f"{', '.join(sorted(revisions)) or 'empty (no revision)'} ({state})")


@db.command()
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    """Write a new migration by comparing the models with the database."""
    migrate.revision(_settings().database_url, message)


# --- API keys ------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--advertiser", "advertiser_id", help="Advertiser id, for the advertiser role.")
@click.option("--name", default=None, help="What the key is for.")
def create_key(role: str, advertiser_id: str | None, name: str | None) -> None:
    """Create a key and print it (the only time it is shown)."""
    from adsmanager.services.errors import ServiceError

    database = Database(_settings().database_url)
    try:
        issued = api_keys.create(
            database,
            CLI_ACTOR,
            role=Role(role),
            advertiser_id=advertiser_id,
            name=name or f"{role} key (cli)",
        )
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(issued.secret)


@keys.command("list")
def list_keys() -> None:
    """List keys (never their secrets)."""
    database = Database(_settings().database_url)
    token = None
    while True:
        page = api_keys.list_keys(database, CLI_ACTOR, page_size=200, page_token=token)
        for key in page.items:
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            click.echo(
                f"{key.id}\tam_{key.prefix}_…\t{key.role}\t{key.advertiser_id or '-'}"
                f"\t{state}\t{key.name}"
            )
        token = page.next_page_token
        if token is None:
            return


@keys.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke a key at once."""
    from adsmanager.services.errors import ServiceError

    try:
        api_keys.revoke(Database(_settings().database_url), CLI_ACTOR, key_id)
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(f"revoked {key_id}")


def _describe(error) -> str:
    fields = getattr(error, "fields", {})
    details = "; ".join(f"{name}: {' '.join(texts)}" for name, texts in fields.items())
    return f"{error.message} {details}".strip()


# --- OpenAPI -------------------------------------------------------------------------------


@main.group()
def openapi() -> None:
    """The OpenAPI description (openapi.yaml) generated from the code."""


@openapi.command("write")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="openapi.yaml")
def write_openapi(path: Path) -> None:
    """Write the OpenAPI description to PATH (default: openapi.yaml)."""
    from adsmanager.openapi import render

    path.write_text(render())
    click.echo(f"wrote {path}")


# --- simulation and the CTR model ----------------------------------------------------------


def _serving(settings: Settings):
    from adsmanager.serving.runtime import Serving

    # The simulation runs in this process, so it reads its own fresh snapshot.
    return Serving(settings, Database(settings.database_url))


@main.group()
def simulate() -> None:
    """A simulated market and feed traffic, through the real auction."""


@simulate.command("market")
@click.option("--advertisers", default=40, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--ad-groups-per-advertiser", default=5, show_default=True, type=click.IntRange(min=1)
)
@click.option("--seed", default=1, show_default=True)
def simulate_market(advertisers: int, ad_groups_per_advertiser: int, seed: int) -> None:
    """Write simulated advertisers, campaigns, ad groups and approved ads."""
    from adsmanager.db.base import utcnow
    from adsmanager.services import demo
    from auction import simulator

    settings = _settings()
    market = simulator.make_market(advertisers, ad_groups_per_advertiser, seed, utcnow())
    count = demo.seed_market(Database(settings.database_url), market)
    click.echo(f"{count} ad groups of {advertisers} advertisers written")


@simulate.command("traffic")
@click.option(
    "--requests", default=5000, show_default=True, type=click.IntRange(min=1), help="Feed pages."
)
@click.option("--users", default=2000, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--hours",
    default=24.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Simulated time span.",
)
@click.option("--seed", default=1, show_default=True)
def simulate_traffic(requests: int, users: int, hours: float, seed: int) -> None:
    """Feed pages through the auction, impressions and clicks back through events."""
    from datetime import timedelta

    from adsmanager.db.base import utcnow
    from adsmanager.services import demo

    settings = _settings()
    serving = _serving(settings)
    with click.progressbar(length=requests, label="feed pages") as bar:
        last = [0]

        def advance(done: int) -> None:
            bar.update(done - last[0])
            last[0] = done

        report = demo.simulate_traffic(
            Database(settings.database_url),
            serving,
            requests=requests,
            users=users,
            seed=seed,
            start=utcnow() - timedelta(hours=hours),
            duration=timedelta(hours=hours),
            progress=advance,
        )
    click.echo(
        f"{report.requests} pages, {report.ads_served} ads, {report.impressions} "
        f"impressions, {report.clicks} clicks, spend {report.spend_micros} micros"
    )


@simulate.command("creators")
@click.option("--creators", "count", default=300, show_default=True)
@click.option("--days", default=35, show_default=True, help="Days of engagement to yesterday.")
@click.option(
    "--pool-micros", default=1_000_000_000, show_default=True, help="Fixed pool per day (USD)."
)
@click.option("--seed", default=1, show_default=True)
def simulate_creators(count: int, days: int, pool_micros: int, seed: int) -> None:
    """Creators with daily engagement, a fixed daily pool, and yesterday's payout run as a
    draft for finance to review."""
    from adsmanager.db.base import utcnow
    from adsmanager.services import creator_demo

    rows = creator_demo.seed(
        Database(_settings().database_url), count, days, utcnow(), pool_micros, seed
    )
    click.echo(f"{count} creators, {rows} video-days of engagement, yesterday's run computed")


@main.group()
def model() -> None:
    """The CTR model."""


LABELLED_UNTIL_HELP = (
    "Window end (UTC). Default: 30 minutes ago, since newer impressions may still get clicks."
)


def _labelled_until(until: datetime | None) -> datetime:
    """The end of a window of labelled rows: by default, where click windows have closed."""
    from adsmanager.db.base import utcnow
    from adsmanager.services import training

    return until or utcnow() - training.CLICK_WINDOW


@model.command("train")
@click.option("--trees", default=200, show_default=True)
@click.option("--since", type=UTC_MOMENT, default=None, help="Window start (UTC).")
@click.option("--until", type=UTC_MOMENT, default=None, help=LABELLED_UNTIL_HELP)
@click.option(
    "--activate/--no-activate",
    default=True,
    show_default=True,
    help="Activate the new model if it beats the active one on the same held-out rows.",
)
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Train on a CSV or Parquet file of rows (see README) instead of the logs.",
)
def train_model(trees: int, since, until, activate: bool, from_file: Path | None) -> None:
    """Train LightGBM on logged impressions and clicks, calibrate it, evaluate it on the
    newest rows, and register it."""
    from adsmanager.services import training

    db = Database(_settings().database_url)
    logged = _read_training_file(from_file) if from_file else None
    until = None if from_file else _labelled_until(until)
    with click.progressbar(length=trees, label="training trees") as bar:
        try:
            outcome = training.train_and_register(
                db,
                logged=logged,
                since=since,
                until=until,
                num_trees=trees,
                auto_activate=activate,
                created_by=CLI_ACTOR.id,
                on_tree=lambda _tree: bar.update(1),
            )
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    _echo_model(db, outcome.model_id)
    click.echo(f"{outcome.decision}; status {outcome.status}")


def _read_training_file(path: Path):
    from adsmanager.services import training_files

    with click.progressbar(length=0, label=f"reading {path.name}", show_pos=True) as bar:
        try:
            return training_files.read_rows(path, on_rows=bar.update)
        except ValueError as error:
            raise click.ClickException(str(error)) from None


@model.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--since", type=UTC_MOMENT, default=None, help="Window start (UTC).")
@click.option("--until", type=UTC_MOMENT, default=None, help=LABELLED_UNTIL_HELP)
def export_training_rows(path: Path, since, until) -> None:
    """Write the logged training rows to PATH (.csv or .parquet)."""
    from adsmanager.services import training_files

    db = Database(_settings().database_url)
    with click.progressbar(length=0, label=f"writing {path.name}", show_pos=True) as bar:
        try:
            count = training_files.export_rows(
                db, path, since=since, until=_labelled_until(until), on_rows=bar.update
            )
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"{count} rows written to {path}")


@model.command("list")
def list_models() -> None:
    """Model versions, oldest first."""
    from adsmanager.services import ctr_models

    db = Database(_settings().database_url)
    token = None
    while True:
        page = ctr_models.list_models(db, page_size=200, page_token=token)
        for record in page.items:
            headline = record.metrics["model"]
            click.echo(
                f"{record.id}  {record.version}  {record.status:9s}  "
                f"{record.created_at:%Y-%m-%d %H:%M}  log loss {headline['log_loss']:.5f}  "
                f"calibration {headline['calibration_ratio']:.3f}"
            )
        token = page.next_page_token
        if token is None:
            return


@model.command("activate")
@click.argument("model_id")
def activate_model(model_id: str) -> None:
    """Serve MODEL_ID; serving workers swap it in within seconds."""
    from adsmanager.services import ctr_models

    db = Database(_settings().database_url)
    try:
        record = ctr_models.activate(db, model_id, by=CLI_ACTOR.id)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{record.id} ({record.version}) is active")


@model.command("evaluate")
@click.argument("model_id")
@click.option("--since", type=UTC_MOMENT, default=None, help="Window start (UTC).")
@click.option("--until", type=UTC_MOMENT, default=None, help=LABELLED_UNTIL_HELP)
def evaluate_model(model_id: str, since, until) -> None:
    """Evaluate MODEL_ID on the logged impressions of a window."""
    from adsmanager.services import model_reports, training

    db = Database(_settings().database_url)
    try:
        report = training.evaluate_registered(
            db, model_id, since=since, until=_labelled_until(until)
        )
    except (ServiceError, ValueError) as error:
        raise click.ClickException(getattr(error, "message", str(error))) from None
    window = report["window"]
    click.echo(f"{report['rows']} logged impressions from {window['from']} to {window['to']}")
    for line in model_reports.report_lines(report):
        click.echo(line)


@model.command("replay")
@click.argument("model_id")
@click.option("--since", type=UTC_MOMENT, default=None, help="Window start (UTC).")
@click.option("--until", type=UTC_MOMENT, default=None, help="Window end (UTC).")
def replay_model(model_id: str, since, until) -> None:
    """Replay logged auctions with MODEL_ID and with the active model: expected revenue and
    clicks of each."""
    from adsmanager.services import replay
    from auction.types import ReservePrices

    settings = _settings()
    try:
        report = replay.replay_model(
            Database(settings.database_url),
            model_id,
            ReservePrices(settings.reserve_cpm_micros, settings.reserve_cpc_micros),
            since=since,
            until=until,
        )
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(
        f"{report['auctions']} logged auctions, {report['changed_auctions']} with other "
        f"winners or prices"
    )
    for name in ("active", "candidate"):
        outcome = report[name]
        click.echo(
            f"  {name:9s} revenue {outcome['revenue_micros'] / 1e6:12.2f}  "
            f"clicks {outcome['clicks']:10.1f}  impressions {outcome['impressions']}"
        )
    for label, key in (("revenue", "revenue_change"), ("clicks", "clicks_change")):
        change = report[key]
        click.echo(f"  {label} change: " + ("n/a" if change is None else f"{change:+.2%}"))


@model.command("report")
@click.argument("model_id")
@click.option(
    "--diagram",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the reliability diagram (PNG) here.",
)
def model_report(model_id: str, diagram: Path | None) -> None:
    """The evaluation of MODEL_ID, and optionally its reliability diagram."""
    from adsmanager.services import model_reports

    db = Database(_settings().database_url)
    record = _echo_model(db, model_id)
    if diagram is not None:
        diagram.write_bytes(model_reports.reliability_png(record))
        click.echo(f"reliability diagram written to {diagram}")


def _echo_model(db: Database, model_id: str):
    from adsmanager.services import ctr_models, model_reports

    try:
        record = ctr_models.get(db, model_id)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    for line in model_reports.summary_lines(record):
        click.echo(line)
    return record


# --- scheduled jobs --------------------------------------------------------------------------


@main.command()
@click.option(
    "--lease-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=3, min_open=False),
    help="How long the lease lasts without renewal (renewed every third of it).",
)
def scheduler(lease_seconds: float) -> None:
    """Run the scheduled jobs (one scheduler at a time holds the lease; others stand by)."""
    import signal
    import threading

    from adsmanager.jobs import schedule_for
    from adsmanager.jobs.scheduler import Scheduler

    settings = _settings()
    migrate.upgrade(settings.database_url)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runner = Scheduler(
        settings,
        Database(settings.database_url),
        schedule=schedule_for(settings),
        lease_seconds=lease_seconds,
    )
    click.echo(f"scheduler {runner.holder}: waiting for the lease")
    runner.run(stop)


@main.group()
def jobs() -> None:
    """The scheduled jobs."""


@jobs.command("list")
def list_jobs() -> None:
    """The schedule."""
    from adsmanager.jobs import schedule_for

    for job in schedule_for(_settings()):
        click.echo(f"{job.name}  {job.trigger} {job.trigger_args}  {job.description}")


@jobs.command("run")
@click.argument("name")
def run_job_now(name: str) -> None:
    """Run job NAME now and record the run."""
    from adsmanager.jobs.runner import run_job

    settings = _settings()
    try:
        run = run_job(name, Database(settings.database_url), settings)
    except KeyError:
        raise click.ClickException(f"no job named {name!r} (see: adsmanager jobs list)") from None
    click.echo(f"{name} {run.outcome}: {run.summary or run.error}")
    if run.outcome != "succeeded":
        sys.exit(1)


@jobs.command("runs")
@click.option("--job", default=None)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1))
def job_runs(job: str | None, limit: int) -> None:
    """The latest job runs, newest first."""
    from adsmanager.services import scheduling

    for run in scheduling.recent_runs(Database(_settings().database_url), job, limit):
        finished = f"{run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else "-"
        first_line = next(iter((run.summary or run.error or "").splitlines()), "")
        click.echo(
            f"{run.id}  {run.job}  {run.trigger}  {run.started_at:%Y-%m-%d %H:%M:%S} -> "
            f"{finished}  {run.outcome}  {first_line}"
        )


# --- billing -------------------------------------------------------------------------------


@main.group()
def billing() -> None:
    """The ledger: spend posting, credits, statements, reconciliation with Stripe."""


@billing.command("post-spend")
def post_spend() -> None:
    """Post every charged impression and click not yet in the ledger."""
    from adsmanager.services import spend_posting

    posted = spend_posting.post_spend(Database(_settings().database_url))
    click.echo(
        f"posted {posted.charges} charges in {posted.entries} entries ({posted.micros} micros)"
    )


@billing.command("credit")
@click.argument("advertiser_id")
@click.argument("amount_micros", type=click.IntRange(min=1))
@click.option("--reason", required=True, help="Why; kept in the ledger.")
def credit_advertiser(advertiser_id: str, amount_micros: int, reason: str) -> None:
    """Credit an advertiser's balance (a make-good, a promotion)."""
    from adsmanager.services import funding

    try:
        credited = funding.credit(
            Database(_settings().database_url),
            CLI_ACTOR,
            advertiser_id,
            amount_micros=amount_micros,
            reason=reason,
        )
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(
        f"credited {credited.amount_micros} micros {credited.currency}: entry {credited.entry_id}"
    )


@billing.command("statement")
@click.argument("advertiser_id")
@click.argument("month")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of a summary.")
def statement(advertiser_id: str, month: str, as_csv: bool) -> None:
    """The statement of MONTH (YYYY-MM, in the advertiser's time zone)."""
    from adsmanager.services import statements

    try:
        result = statements.monthly(
            Database(_settings().database_url), CLI_ACTOR, advertiser_id, month
        )
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    if as_csv:
        click.echo(statements.to_csv(result), nl=False)
        return
    click.echo(f"{result.advertiser_name} ({result.advertiser_id}), {month}, {result.currency}")
    for label, micros in (
        ("opening balance", result.opening_balance_micros),
        ("top-ups", result.top_ups_micros),
        ("credits", result.credits_micros),
        ("refunds", -result.refunds_micros),
        ("spend", -result.spend_micros),
        ("closing balance", result.closing_balance_micros),
    ):
        click.echo(f"  {label:<16}{micros:>20,}")
    for line in result.spend_by_campaign:
        click.echo(f"    {line.campaign_name[:30]:<30}{-line.spend_micros:>20,}")


@billing.command("reconcile")
@click.option("--since", type=UTC_MOMENT, default=None, help="Default: a day before --until.")
@click.option("--until", type=UTC_MOMENT, default=None, help="Default: an hour ago (UTC).")
def reconcile(since, until) -> None:
    """Compare Stripe's payments and refunds with the ledger; exit 1 on any difference."""
    from datetime import timedelta

    from adsmanager.db.base import utcnow
    from adsmanager.services import funding, reconciliation

    settings = _settings()
    gateway = funding.make_gateway(settings)
    if gateway is None:
        raise click.ClickException("Stripe is not configured (STRIPE_API_KEY).")
    until = until or utcnow() - timedelta(hours=1)
    since = since or until - timedelta(days=1)
    try:
        run = reconciliation.reconcile(Database(settings.database_url), gateway, since, until)
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(
        f"reconciliation {run.id}: {run.stripe_objects} Stripe objects, "
        f"{run.ledger_entries} ledger entries, {len(run.differences)} differences"
    )
    for difference in run.differences:
        click.echo(f"  {difference}")
    if run.differences:
        sys.exit(1)


@billing.command("check")
def check_ledger() -> None:
    """Check the ledger's invariants; exit 1 if one is broken."""
    from adsmanager.services import ledger

    result = ledger.check(Database(_settings().database_url))
    click.echo(
        f"{result.entries} entries; totals by currency {result.totals_by_currency}; "
        f"unbalanced entries {result.unbalanced_entries}; drifted accounts "
        f"{result.drifted_accounts}"
    )
    click.echo("ok" if result.ok else "BROKEN")
    if not result.ok:
        sys.exit(1)


# --- creator fund --------------------------------------------------------------------------


def _fund_value(raw: str):
    """A rules value from the command line: JSON (numbers, null, lists), else a string."""
    import json

    try:
        return json.loads(raw)
    except ValueError:
        return raw


@main.group()
def fund() -> None:
    """The creator fund's programme rules."""


@fund.command("rules")
@click.argument("changes", nargs=-1)
@click.option("--note", default=None, help="Why the rules change; kept with the version.")
def fund_rules_command(changes: tuple[str, ...], note: str | None) -> None:
    """Show the rules in force, or write a new version: NAME=VALUE ... (e.g.
    cap_micros=500000000 countries='["US","GB"]')."""
    import json

    from adsmanager.db.base import utcnow
    from adsmanager.services import fund_rules

    db = Database(_settings().database_url)
    try:
        if changes:
            pairs = [change.partition("=") for change in changes]
            if any(not sep or not name for name, sep, _ in pairs):
                raise click.BadParameter("give changes as NAME=VALUE")
            parsed = {name: _fund_value(value) for name, _, value in pairs}
            version = fund_rules.change(db, parsed, note, CLI_ACTOR, utcnow())
        else:
            version = fund_rules.current(db, utcnow())
    except (ServiceError, TypeError) as error:
        raise click.ClickException(
            _describe(error) if isinstance(error, ServiceError) else str(error)
        ) from None
    click.echo(f"version {version.version} ({version.created_at:%Y-%m-%d %H:%M} UTC)")
    click.echo(json.dumps(version.rules.to_dict(), indent=2))


@main.group()
def payouts() -> None:
    """Creator-fund payout runs: compute, review, approve, pay, report."""


def _run_summary(run) -> str:
    totals = run.totals
    return (
        f"{run.id}  {run.period_kind} {run.period_start}  {run.status}  rules v{run.rules_version}"
        f"  pool {run.pool_micros:,} {run.currency} micros  payable "
        f"{totals['payable_creators']:,} creators / {totals['payable_micros']:,} micros  "
        f"carried {totals['carried_out_micros']:,}  excluded {totals['excluded']:,}"
    )


@payouts.command("compute")
@click.option("--period", required=True, help="A day (YYYY-MM-DD) or a month (YYYY-MM), UTC.")
def payouts_compute(period: str) -> None:
    """Compute the DRAFT run of a period (again, if it is still a draft)."""
    import time

    from adsmanager.db.base import utcnow
    from adsmanager.services import payout_runs

    started = time.perf_counter()
    try:
        run = payout_runs.compute(
            Database(_settings().database_url),
            payout_runs.parse_period(period),
            CLI_ACTOR,
            utcnow(),
        )
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(_run_summary(run))
    click.echo(f"computed in {time.perf_counter() - started:.1f} s")


@payouts.command("list")
def payouts_list() -> None:
    """Every run."""
    from adsmanager.services import payout_runs

    db, token = Database(_settings().database_url), None
    while True:
        page = payout_runs.runs(db, 100, token)
        for run in page.items:
            click.echo(_run_summary(run))
        token = page.next_page_token
        if not token:
            return


@payouts.command("show")
@click.argument("run_id")
@click.option("--creator", "creator_id", default=None, help="Explain this creator's line.")
def payouts_show(run_id: str, creator_id: str | None) -> None:
    """A run's totals, or one creator's line explained."""
    import json

    from adsmanager.services import fund_reports, payout_runs

    db = Database(_settings().database_url)
    try:
        if creator_id:
            line = fund_reports.explanation(db, run_id, creator_id)
            click.echo(f"{line.creator_id}: {line.status}, pays {line.payable_micros:,} micros")
            for sentence in line.explanation:
                click.echo(f"  - {sentence}")
            return
        run = payout_runs.get(db, run_id)
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(_run_summary(run))
    click.echo(json.dumps(run.totals, indent=2))


@payouts.command("export")
@click.argument("run_id")
@click.option("-o", "--output", type=click.File("w"), default="-", help="Default: stdout.")
def payouts_export(run_id: str, output) -> None:
    """Every line of a run as CSV."""
    from adsmanager.services import fund_reports, payout_runs

    db = Database(_settings().database_url)
    try:
        run = payout_runs.get(db, run_id)
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    for chunk in fund_reports.csv_rows(run, payout_runs.all_lines(db, run_id)):
        output.write(chunk)


@payouts.command("approve")
@click.argument("run_id")
@click.option("--approver", required=True, help="Who approves (kept on the run).")
def payouts_approve(run_id: str, approver: str) -> None:
    """Approve a DRAFT run: its shares go into the ledger and it can be paid."""
    from adsmanager.db.base import utcnow
    from adsmanager.services import payout_runs

    actor = Actor(id=f"cli:{approver}", role=Role.FINANCE)
    try:
        run = payout_runs.approve(Database(_settings().database_url), run_id, actor, utcnow())
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(_run_summary(run))


@payouts.command("pay")
@click.argument("run_id")
def payouts_pay(run_id: str) -> None:
    """Pay an approved run through Stripe; run it again to retry what failed."""
    from adsmanager.db.base import utcnow
    from adsmanager.services import funding, payouts

    settings = _settings()
    gateway = funding.make_gateway(settings)
    if gateway is None:
        raise click.ClickException("Stripe is not configured (STRIPE_API_KEY).")
    with click.progressbar(length=0, label="transfers", show_pos=True) as bar:

        def advance(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        try:
            result = payouts.pay(
                Database(settings.database_url), gateway, run_id, CLI_ACTOR, utcnow, advance
            )
        except ServiceError as error:
            raise click.ClickException(_describe(error)) from None
    click.echo(f"{result.run.id}: {result.run.status}, {result.paid} paid, {result.failed} failed")
    if result.failed:
        sys.exit(1)


@payouts.command("delete")
@click.argument("run_id")
def payouts_delete(run_id: str) -> None:
    """Discard a DRAFT run."""
    from adsmanager.db.base import utcnow
    from adsmanager.services import payout_runs

    try:
        payout_runs.delete_draft(Database(_settings().database_url), run_id, utcnow())
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(f"deleted {run_id}")


@payouts.command("report")
@click.argument("run_id")
@click.option(
    "--image",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the distribution chart (PNG) here.",
)
def payouts_report(run_id: str, image: Path | None) -> None:
    """Totals, exclusions by reason, carry-overs and the spread of payouts."""
    import json

    from adsmanager.services import fund_reports

    db = Database(_settings().database_url)
    try:
        report = fund_reports.report(db, run_id)
        if image:
            image.write_bytes(fund_reports.distribution_png(db, run_id))
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(json.dumps(report, indent=2, default=str))
    if image:
        click.echo(f"wrote {image}")


def _import_report(report, label: str) -> None:
    """Totals, then the first invalid lines; exit 1 when any line was invalid."""
    click.echo(
        f"{report.rows:,} {label}: {report.created:,} created, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.invalid:,} invalid"
    )
    shown = report.errors[:IMPORT_ERRORS_SHOWN]
    for error in shown:
        click.echo(f"line {error.line}: {error.reason}: {error.message}", err=True)
    if report.invalid > len(shown):
        click.echo(f"... and {report.invalid - len(shown):,} more invalid lines", err=True)
    if report.invalid:
        sys.exit(1)


IMPORT_ERRORS_SHOWN = 20


@main.group()
def creators() -> None:
    """Creators of the creator fund."""


@creators.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def creators_import(file) -> None:
    """Create or update the creators of a CSV file with the columns
    id,country,verified_age,followers,standing,joined_on,stripe_account_id (empty = null)."""
    from adsmanager.db.base import utcnow
    from adsmanager.services import creators as service

    db = Database(_settings().database_url)
    with click.progressbar(length=0, label="creators", show_pos=True) as bar:
        try:
            report = service.import_csv(db, file, utcnow(), on_rows=bar.update)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    _import_report(report, "rows")


@main.group()
def engagement() -> None:
    """Daily engagement per video, for the creator fund."""


@engagement.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=1000,
    show_default=True,
    help="Rows per transaction.",
)
def engagement_import(file, batch_size: int) -> None:
    """Upsert the video-days of a CSV file (a backfill) with the columns
    creator_id,video_id,day,views,qualified_views,invalid_views,invalid_traffic,
    watch_time_seconds,likes,comments,shares."""
    from adsmanager.db.base import utcnow
    from adsmanager.services import engagement as service

    db = Database(_settings().database_url)
    with click.progressbar(length=0, label="video-days", show_pos=True) as bar:
        try:
            report = service.import_csv(db, file, utcnow, batch_size, on_rows=bar.update)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
    _import_report(report, "rows")


# --- users (people who sign in to the web pages) -------------------------------------------


@main.group()
def users() -> None:
    """People who sign in to the web pages."""


@users.command("create")
@click.option("--email", required=True)
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role if role is not Role.FEED]),
    required=True,
)
@click.option("--advertiser", "advertiser_id", help="Advertiser id, for the advertiser role.")
@click.password_option("--password", help="Prompted for (twice) when not given.")
def create_user(email: str, role: str, advertiser_id: str | None, password: str) -> None:
    """Create a user who signs in with EMAIL and the password."""
    from datetime import datetime

    from adsmanager.services import users as user_accounts

    database = Database(_settings().database_url)
    try:
        user = user_accounts.create_user(
            database, email, password, Role(role), advertiser_id, datetime.now(UTC)
        )
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(f"{user.id}\t{user.email}\t{user.role}")


@users.command("list")
def list_users() -> None:
    """List users (never their passwords)."""
    from adsmanager.services import users as user_accounts

    for user in user_accounts.list_users(Database(_settings().database_url)):
        state = "disabled" if user.disabled else "active"
        last = f"{user.last_sign_in_at:%Y-%m-%d %H:%M}" if user.last_sign_in_at else "never"
        click.echo(
            f"{user.id}\t{user.email}\t{user.role}\t{user.advertiser_id or '-'}\t{state}"
            f"\tlast sign-in {last}"
        )


@users.command("disable")
@click.argument("email")
@click.option("--enable", is_flag=True, help="Enable the user again instead.")
def disable_user(email: str, enable: bool) -> None:
    """Disable a user: their sessions end at their next request."""
    from adsmanager.services import users as user_accounts

    database = Database(_settings().database_url)
    try:
        user = user_accounts.get_by_email(database, email)
        user_accounts.set_disabled(database, user.id, not enable)
    except ServiceError as error:
        raise click.ClickException(_describe(error)) from None
    click.echo(f"{'enabled' if enable else 'disabled'} {user.email}")


# --- serving -------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option(
    "--scheduler/--no-scheduler",
    "with_scheduler",
    default=True,
    show_default=True,
    help="Also run the scheduled jobs (spend posting, retraining) beside the server.",
)
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, workers: int, with_scheduler: bool) -> None:
    """Serve with demo data: on an empty database, a simulated market, two simulated days
    of traffic through the real auction, and a CTR model trained on it."""
    import subprocess

    from adsmanager.db.base import utcnow
    from adsmanager.services import demo as demo_data

    settings = _settings()
    migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)
    if demo_data.is_empty(database):
        ctx.invoke(simulate_market)
        # Two days: the held-out hours that judge the model are hours of the day it has
        # seen, and about 190 held-out clicks judge it (a day of 3,000 pages left about 30).
        ctx.invoke(simulate_traffic, requests=20_000, hours=48.0)
        ctx.invoke(train_model)
        ctx.invoke(simulate_creators)
        people = demo_data.seed_people(database, utcnow())
        click.echo(f"\nSign in at http://{host}:{port}/sign-in as (passwords shown once):\n")
        for email, role, password in people:
            click.echo(f"    {role:<11} {email:<26} {password}")
        click.echo("\nMore people: 'adsmanager users create'.\n")
    database.dispose()
    jobs = (
        subprocess.Popen([sys.executable, "-m", "adsmanager.cli", "scheduler"])
        if with_scheduler
        else None
    )
    try:
        ctx.invoke(serve, host=host, port=port, workers=workers)
    finally:
        if jobs is not None:
            jobs.terminate()
            jobs.wait(30)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Migrate the database, make sure an admin key exists, and serve with gunicorn."""
    from adsmanager.server import run

    settings = _settings()
    migrate.upgrade(settings.database_url)
    database = Database(settings.database_url)
    revisions = ", ".join(sorted(migrate.current_revisions(database.engine)))
    click.echo(f"Database {database.engine.url.render_as_string()} migrated to {revisions}.")
    if not api_keys.active_admin_key_exists(database):
        issued = api_keys.create(
            database, CLI_ACTOR, role=Role.ADMIN, advertiser_id=None, name="bootstrap admin key"
        )
        click.echo(f"\nAdmin API key (shown once, keep it):\n\n    {issued.secret}\n")
    else:
        click.echo(
            "An admin key exists already; make another with 'adsmanager keys create --role admin'."
        )
    database.dispose()
    click.echo(f"Serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    run(host=host, port=port, workers=workers)


if __name__ == "__main__":
    sys.exit(main())
