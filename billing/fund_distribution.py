"""How evenly a payout run's money is spread: the Lorenz curve, the Gini coefficient, and a
chart of both with a histogram, for finance to look at before approving."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any

MICROS_PER_UNIT = 1_000_000


def lorenz(amounts: Sequence[int]) -> list[tuple[float, float]]:
    """Points (share of creators, share of money) from the smallest amounts up."""
    ordered = sorted(a for a in amounts if a > 0)
    total = sum(ordered)
    if not total:
        return [(0.0, 0.0), (1.0, 1.0)]
    points, running = [(0.0, 0.0)], 0
    for i, amount in enumerate(ordered, start=1):
        running += amount
        points.append((i / len(ordered), running / total))
    return points


def gini(amounts: Sequence[int]) -> float:
    """0 when everyone gets the same, towards 1 when one creator gets everything."""
    ordered = sorted(a for a in amounts if a > 0)
    n, total = len(ordered), sum(ordered)
    if not total:
        return 0.0
    weighted = sum(i * amount for i, amount in enumerate(ordered, start=1))
    return (2 * weighted) / (n * total) - (n + 1) / n


def distribution_chart(
    amounts: Sequence[int], currency: str, path: str | Any | IO[bytes], *, title: str
) -> None:
    """A PNG: histogram of the amounts (log scale of count) beside their Lorenz curve."""
    # Imported here: matplotlib costs tens of megabytes, and only this chart needs it.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4.2))
    paid = [a / MICROS_PER_UNIT for a in amounts if a > 0]
    if paid:
        left.hist(paid, bins=min(40, max(len(paid), 1)), color="#3465a4")
        left.set_yscale("log")
    left.set_xlabel(f"amount per creator ({currency})")
    left.set_ylabel("creators")
    left.set_title(f"{len(paid)} creators with a share")
    xs, ys = zip(*lorenz(amounts), strict=True)
    right.plot(xs, ys, color="#cc0000", label=f"Lorenz curve (Gini {gini(amounts):.3f})")
    right.plot([0, 1], [0, 1], color="#888888", linestyle="--", label="equal shares")
    right.set_xlabel("share of creators (smallest first)")
    right.set_ylabel("share of the money")
    right.legend(loc="upper left")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=90)
    pyplot.close(figure)
