"""The closed vocabularies of the object model, shared by the database, services and API."""

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    ADVERTISER = "advertiser"
    FINANCE = "finance"
    FEED = "feed"


class AdvertiserStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ARCHIVED = "ARCHIVED"


class ModelStatus(StrEnum):
    """Lifecycle of a CTR model version in the registry."""

    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"


class Status(StrEnum):
    """Status of campaigns, ad groups and ads."""

    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    ARCHIVED = "ARCHIVED"


class Objective(StrEnum):
    TRAFFIC = "TRAFFIC"
    VIDEO_VIEWS = "VIDEO_VIEWS"
    REACH = "REACH"


class BudgetMode(StrEnum):
    DAILY = "DAILY"
    LIFETIME = "LIFETIME"


class BillingEvent(StrEnum):
    CPM = "CPM"
    CPC = "CPC"


class Pacing(StrEnum):
    STANDARD = "STANDARD"
    ACCELERATED = "ACCELERATED"


class ReviewStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"


class ReviewDecision(StrEnum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"


class CallToAction(StrEnum):
    LEARN_MORE = "LEARN_MORE"
    SHOP_NOW = "SHOP_NOW"
    SIGN_UP = "SIGN_UP"
    DOWNLOAD = "DOWNLOAD"
    WATCH_MORE = "WATCH_MORE"
    CONTACT_US = "CONTACT_US"
    BOOK_NOW = "BOOK_NOW"


class Weekday(StrEnum):
    MON = "MON"
    TUE = "TUE"
    WED = "WED"
    THU = "THU"
    FRI = "FRI"
    SAT = "SAT"
    SUN = "SUN"


AGE_GROUPS = ("13-17", "18-24", "25-34", "35-44", "45-54", "55+")
GENDERS = ("female", "male", "other")
OPERATING_SYSTEMS = ("android", "ios")

# The lists an ad group's targeting holds; an empty list means everyone.
TARGETING_FIELDS = (
    "countries",
    "languages",
    "age_groups",
    "genders",
    "os",
    "interests",
    "excluded_categories",
    "excluded_creators",
)


class TopUpStatus(StrEnum):
    PENDING = "PENDING"  # waiting for the client to confirm the payment with Stripe
    SUCCEEDED = "SUCCEEDED"  # Stripe's webhook confirmed it; the balance was credited
    FAILED = "FAILED"
    CANCELED = "CANCELED"


class RefundStatus(StrEnum):
    PENDING = "PENDING"  # reserved; Stripe asked, or to be asked again with the same key
    SUCCEEDED = "SUCCEEDED"  # Stripe made it; the balance was debited
    FAILED = "FAILED"


class PeriodKind(StrEnum):
    DAY = "DAY"
    MONTH = "MONTH"


class PayoutRunStatus(StrEnum):
    DRAFT = "DRAFT"  # computed, waiting for finance; computing again replaces it
    APPROVED = "APPROVED"  # approved by finance; the shares are in the ledger
    PARTIALLY_PAID = "PARTIALLY_PAID"  # some transfers failed; paying again retries them
    PAID = "PAID"


class PayoutLineStatus(StrEnum):
    EXCLUDED = "EXCLUDED"  # not eligible; any balance carried in is carried on
    CARRIED = "CARRIED"  # below the minimum payout: the balance moves to a later run
    PAYABLE = "PAYABLE"  # to be transferred
    PAID = "PAID"
    FAILED = "FAILED"  # the transfer failed (reason kept); paying again retries it
