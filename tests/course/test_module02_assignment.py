"""The module 02 assignment (break-the-data) grades honestly: wrong checks lose points, right ones keep them.

Each variant fills the student version with the reference answers and swaps in one check written the way a
learner plausibly would: one that fires on clean batches, one tuned to the visible batch, one with an
off-by-one threshold, one that swallows errors, one that ignores a parameter. Two sets of correct answers are
written differently from the reference. All variants are graded together, for real, in one batch per session
(``grade_batch`` in ``conftest.py``), hidden tests included.
"""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import reference_answers, swap

pytestmark = pytest.mark.slow

SLUG = "02-real-world-data"
NOTEBOOK = f"{SLUG}/break-the-data.ipynb"
AUTOGRADED, MANUAL = 18, 6

Graded = Any  # conftest.Graded


REF = reference_answers(NOTEBOOK)


# ---------------------------------------------------------------- correct answers, written differently
DIFFERENT = {
    "schema_alarm": """def schema_alarm(batch, *, expected):
    if set(batch.columns) != set(expected):
        return True
    return any(str(batch[name].dtype) != dtype for name, dtype in expected.items())
""",
    "timestamp_alarm": """def timestamp_alarm(batch, *, delivered_at):
    try:
        stamps = batch["timestamp"]
    except KeyError:
        return True
    if getattr(stamps.dtype, "tz", None) is None or stamps.isna().any():
        return True
    steps = stamps.diff().dropna()
    return bool((steps < pd.Timedelta(0)).any() or stamps.max() > delivered_at)
""",
    "label_alarm": """def label_alarm(batch):
    try:
        waited = batch["label_available_at"] - batch["timestamp"]
        fraud = batch["is_fraud"].astype(bool)
    except KeyError:
        return True
    legit_wrong = (~fraud) & (waited != pd.Timedelta(days=60))
    fraud_wrong = fraud & (waited == pd.Timedelta(days=60))
    return bool(legit_wrong.sum() + fraud_wrong.sum() > 0)
""",
    "imbalance_alarm": """def imbalance_alarm(batch, *, reference):
    if not {"is_fraud", "timestamp"} <= set(batch.columns):
        return True
    def rows_per_hour(frame):
        hours = (frame["timestamp"].max() - frame["timestamp"].min()).total_seconds() / 3600
        return len(frame) / hours if hours > 0 else float("inf")
    odds = batch["is_fraud"].mean() / reference["is_fraud"].mean()
    return bool(odds > 2.5 or rows_per_hour(batch) / rows_per_hour(reference) < 0.6)
""",
    # chi-square-like distance on category shares, mean of log amounts instead of the median
    "drift_alarm": """def drift_alarm(batch, *, reference):
    try:
        now = batch["merchant_category"].value_counts(normalize=True)
        then = reference["merchant_category"].value_counts(normalize=True)
        euros_now, euros_then = amount_eur(batch), amount_eur(reference)
    except KeyError:
        return True
    both = sorted(set(now.index) | set(then.index))
    gap = sum(abs(now.get(c, 0.0) - then.get(c, 0.0)) for c in both) / 2
    log_shift = abs(np.log(euros_now.clip(lower=0.01)).mean() - np.log(euros_then.clip(lower=0.01)).mean())
    return bool(gap > 0.07 or log_shift > 0.15)
""",
    "noise_alarm": """def noise_alarm(batch, *, ledger):
    if not {"transaction_id", "amount_cents"} <= set(batch.columns):
        return True
    joined = batch[["transaction_id", "amount_cents"]].merge(
        ledger[["transaction_id", "amount_cents"]], on="transaction_id", how="left", suffixes=("", "_ledger"), indicator=True)
    unknown = (joined["_merge"] != "both").any()
    return bool(unknown or (joined["amount_cents"] != joined["amount_cents_ledger"]).any())
""",
}

DIFFERENT_2 = {
    "schema_alarm": """def schema_alarm(batch, *, expected):
    found = sorted((str(c), str(t)) for c, t in batch.dtypes.items())
    return found != sorted(expected.items())
""",
    "timestamp_alarm": """def timestamp_alarm(batch, *, delivered_at):
    if "timestamp" not in batch:
        return True
    stamps = batch["timestamp"]
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return True
    values = stamps.to_numpy()
    out_of_order = bool((values[1:] < values[:-1]).any())
    return bool(stamps.isna().any() or out_of_order or (stamps > delivered_at).sum() > 0)
""",
    "label_alarm": """def label_alarm(batch):
    if any(c not in batch.columns for c in ("is_fraud", "timestamp", "label_available_at")):
        return True
    days = (batch["label_available_at"] - batch["timestamp"]).dt.total_seconds() / 86400
    consistent = np.where(batch["is_fraud"] == 1, days != 60, days == 60)
    return not bool(consistent.all())
""",
    "imbalance_alarm": """def imbalance_alarm(batch, *, reference):
    try:
        per_day = batch.groupby(batch["timestamp"].dt.floor("D")).size().median()
        ref_per_day = reference.groupby(reference["timestamp"].dt.floor("D")).size().median()
        rate, ref_rate = float(batch["is_fraud"].mean()), float(reference["is_fraud"].mean())
    except (KeyError, AttributeError):
        return True
    return rate > 3 * ref_rate or per_day < ref_per_day / 2
""",
    "drift_alarm": """def drift_alarm(batch, *, reference):
    for column in ("merchant_category", "amount_cents", "currency"):
        if column not in batch.columns:
            return True
    shares = pd.concat([batch["merchant_category"].value_counts(normalize=True),
                        reference["merchant_category"].value_counts(normalize=True)], axis=1).fillna(0) + 1e-4
    psi = ((shares.iloc[:, 0] - shares.iloc[:, 1]) * np.log(shares.iloc[:, 0] / shares.iloc[:, 1])).sum()
    ratio = amount_eur(batch).quantile(0.5) / amount_eur(reference).quantile(0.5)
    return bool(psi > 0.04 or not (0.85 < ratio < 1.18))
""",
    "noise_alarm": """def noise_alarm(batch, *, ledger):
    try:
        mine = batch.set_index("transaction_id")["amount_cents"].sort_index()
        theirs = ledger.set_index("transaction_id")["amount_cents"]
    except KeyError:
        return True
    if not mine.index.isin(theirs.index).all():
        return True
    return not mine.equals(theirs.loc[mine.index].astype(mine.dtype))
""",
}

# ---------------------------------------------------------------- plausible wrong answers: (answer cell, code, tests that must fail)
WRONG = {
    # A: only missing columns count; an added or retyped column passes
    "schema_missing_only": ("schema_alarm", """def schema_alarm(batch, *, expected):
    return any(column not in batch.columns for column in expected)
""", {"test_schema_catches"}),
    # A: compares the column lists, order included: a reordered clean batch is a false alarm
    "schema_order_matters": ("schema_alarm", """def schema_alarm(batch, *, expected):
    return [str(c) for c in batch.columns] != list(expected) or any(str(batch[c].dtype) != t for c, t in expected.items())
""", {"test_schema_quiet"}),
    # A: the visible batch's symptom, hard-coded
    "schema_hard_coded_device": ("schema_alarm", """def schema_alarm(batch, *, expected):
    return "device" not in batch.columns
""", {"test_schema_catches", "test_schema_quiet"}),
    # A: a missing column raises KeyError, which is swallowed into "quiet"
    "schema_swallows_errors": ("schema_alarm", """def schema_alarm(batch, *, expected):
    try:
        return any(str(batch[c].dtype) != t for c, t in expected.items()) or len(batch.columns) != len(expected)
    except KeyError:
        return False
""", {"test_schema_visible", "test_schema_catches"}),
    # A: the module-level contract instead of the argument
    "schema_ignores_expected": ("schema_alarm", """def schema_alarm(batch, *, expected):
    return {str(c): str(t) for c, t in batch.dtypes.items()} != EXPECTED_DTYPES
""", {"test_schema_catches", "test_schema_quiet"}),
    # B: strictly increasing: payments sharing a timestamp are a false alarm
    "timestamps_strictly_increasing": ("timestamp_alarm", swap(REF["timestamp_alarm"], "not stamps.is_monotonic_increasing",
        "not (stamps.diff().dropna() > pd.Timedelta(0)).all()"), {"test_timestamps_quiet"}),
    # B: the delivery time is ignored: only the order is checked
    "timestamps_ignore_delivered_at": ("timestamp_alarm", swap(REF["timestamp_alarm"],
        "not stamps.is_monotonic_increasing or (stamps > pd.Timestamp(delivered_at)).any()", "not stamps.is_monotonic_increasing"),
        {"test_timestamps_catch"}),
    # B: off by one at the boundary: a payment exactly at delivery counts as the future
    "timestamps_at_delivery_is_future": ("timestamp_alarm", swap(REF["timestamp_alarm"], "(stamps > pd.Timestamp(delivered_at))",
        "(stamps >= pd.Timestamp(delivered_at))"), {"test_timestamps_quiet"}),
    # B: anything unexpected is "not my problem"
    "timestamps_swallow_errors": ("timestamp_alarm", """def timestamp_alarm(batch, *, delivered_at):
    try:
        stamps = batch["timestamp"]
        return bool(not stamps.is_monotonic_increasing or (stamps > delivered_at).any())
    except Exception:
        return False
""", {"test_timestamps_catch"}),
    # B: the visible symptom: rows earlier than the batch's first row
    "timestamps_hard_coded_late_events": ("timestamp_alarm", """def timestamp_alarm(batch, *, delivered_at):
    return bool((batch["timestamp"] < batch["timestamp"].iloc[0]).any())
""", {"test_timestamps_catch"}),
    # C: the fraud rate, which label noise leaves unchanged
    "labels_fraud_rate": ("label_alarm", """def label_alarm(batch):
    if "is_fraud" not in batch.columns:
        return True
    return bool(batch["is_fraud"].mean() > 0.02)
""", {"test_labels_visible", "test_labels_catch"}),
    # C: "confirmed legitimate" read as "60 days or more": late chargebacks look legitimate
    "labels_off_by_one": ("label_alarm", swap(REF["label_alarm"], "== pd.Timedelta(days=60)", ">= pd.Timedelta(days=60)"),
        {"test_labels_quiet"}),
    # C: a threshold tuned on the visible batch's number of contradictions
    "labels_hard_coded_count": ("label_alarm", swap(REF["label_alarm"], "return bool(((batch[\"is_fraud\"] == 0) != confirmed_legitimate).any())",
        "return bool(((batch[\"is_fraud\"] == 0) != confirmed_legitimate).sum() >= 4)"), {"test_labels_catch"}),
    # C: a missing column is swallowed
    "labels_swallow_errors": ("label_alarm", """def label_alarm(batch):
    try:
        legit = (batch["label_available_at"] - batch["timestamp"]) == pd.Timedelta(days=60)
        return bool(((batch["is_fraud"] == 0) != legit).any())
    except KeyError:
        return False
""", {"test_labels_catch"}),
    # D: the visible batch's fraud rate as the threshold; the reference is ignored
    "imbalance_hard_coded_rate": ("imbalance_alarm", """def imbalance_alarm(batch, *, reference):
    if "is_fraud" not in batch.columns:
        return True
    return bool(batch["is_fraud"].mean() > 0.03)
""", {"test_imbalance_catch"}),
    # D: a tight band: ordinary weekly campaigns are false alarms
    "imbalance_too_tight": ("imbalance_alarm", swap(REF["imbalance_alarm"], "> 3 * reference", "> 1.2 * reference"),
        {"test_imbalance_quiet"}),
    # D: row counts instead of rows per day
    "imbalance_counts_not_rates": ("imbalance_alarm", swap(REF["imbalance_alarm"], "too_few_rows = per_day(batch) < 0.5 * per_day(reference)",
        "too_few_rows = len(batch) < 0.5 * len(reference) or len(batch) > 1.5 * len(reference)"), {"test_imbalance_quiet"}),
    # D: a missing label column is swallowed
    "imbalance_swallows_errors": ("imbalance_alarm", """def imbalance_alarm(batch, *, reference):
    try:
        days = lambda f: (f["timestamp"].max() - f["timestamp"].min()) / pd.Timedelta(days=1)
        return bool(batch["is_fraud"].mean() > 3 * reference["is_fraud"].mean() or len(batch) / days(batch) < 0.5 * len(reference) / days(reference))
    except KeyError:
        return False
""", {"test_imbalance_catch"}),
    # E: only the category mix: inflated amounts pass
    "drift_categories_only": ("drift_alarm", swap(REF["drift_alarm"], "return bool(psi > 0.05 or shift > 0.16)", "return bool(psi > 0.05)"),
        {"test_drift_visible", "test_drift_catch"}),
    # E: thresholds so tight that ordinary weeks alarm
    "drift_too_tight": ("drift_alarm", swap(REF["drift_alarm"], "return bool(psi > 0.05 or shift > 0.16)", "return bool(psi > 0.005 or shift > 0.03)"),
        {"test_drift_quiet"}),
    # E: the reference week's median hard-coded instead of the reference argument
    "drift_ignores_reference": ("drift_alarm", swap(REF["drift_alarm"], "shift = abs(np.log(amount_eur(batch).median() / amount_eur(reference).median()))",
        "shift = abs(np.log(amount_eur(batch).median() / amount_eur(REFERENCE).median()))"), {"test_drift_quiet"}),
    # E: a missing column is swallowed
    "drift_swallows_errors": ("drift_alarm", """def drift_alarm(batch, *, reference):
    try:
        shift = abs(np.log(amount_eur(batch).median() / amount_eur(reference).median()))
        now = batch["merchant_category"].value_counts(normalize=True)
        before = reference["merchant_category"].value_counts(normalize=True).reindex(now.index, fill_value=0)
        return bool(shift > 0.16 or (now - before).abs().sum() > 0.1)
    except KeyError:
        return False
""", {"test_drift_catch"}),
    # F: compared position by position: the same payments in another order look like noise
    "noise_positional": ("noise_alarm", """def noise_alarm(batch, *, ledger):
    if "amount_cents" not in batch.columns:
        return True
    if len(batch) != len(ledger):
        return True
    return bool((batch["amount_cents"].to_numpy() != ledger["amount_cents"].to_numpy()).any())
""", {"test_noise_quiet"}),
    # F: totals compared with a tolerance: a few jittered amounts, or a shorter batch, fool it
    "noise_totals": ("noise_alarm", """def noise_alarm(batch, *, ledger):
    if "amount_cents" not in batch.columns:
        return True
    return bool(abs(batch["amount_cents"].sum() / ledger["amount_cents"].sum() - 1) > 0.001)
""", {"test_noise_catch", "test_noise_quiet"}),
    # F: an inner join: a payment the ledger never saw silently disappears
    "noise_inner_join": ("noise_alarm", """def noise_alarm(batch, *, ledger):
    if "amount_cents" not in batch.columns:
        return True
    joined = batch.merge(ledger[["transaction_id", "amount_cents"]], on="transaction_id", suffixes=("", "_ledger"))
    return bool((joined["amount_cents"] != joined["amount_cents_ledger"]).any())
""", {"test_noise_catch"}),
    # F: the module-level ledger instead of the argument
    "noise_ignores_ledger": ("noise_alarm", swap(REF["noise_alarm"], 'booked = ledger.set_index', 'booked = LEDGER.set_index'),
        {"test_noise_quiet"}),
    # F: errors swallowed into "quiet"
    "noise_swallows_errors": ("noise_alarm", """def noise_alarm(batch, *, ledger):
    try:
        expected = batch["transaction_id"].map(ledger.set_index("transaction_id")["amount_cents"])
        return bool((batch["amount_cents"] != expected).any())
    except Exception:
        return False
""", {"test_noise_catch"}),
}

RIGHT = {"reference": {}, "different": DIFFERENT, "different_2": DIFFERENT_2}


def test_every_task_has_four_wrong_answers() -> None:
    per_task: dict[str, int] = {}
    for grade_id, _, _ in WRONG.values():
        per_task[grade_id] = per_task.get(grade_id, 0) + 1
    assert set(per_task) == set(REF) and min(per_task.values()) >= 4, per_task


@pytest.fixture(scope="session")
def graded(grade_batch: Any) -> dict[str, Graded]:
    variants = {f"right:{name}": answers for name, answers in RIGHT.items()}
    variants |= {f"wrong:{name}": {grade_id: code} for name, (grade_id, code, _) in WRONG.items()}
    return grade_batch("02", NOTEBOOK, variants)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_correct_answers_score_full_marks(graded: dict[str, Graded], name: str) -> None:
    result = graded[f"right:{name}"]
    assert (result.score, result.failed, result.manual) == (AUTOGRADED, {}, MANUAL), result.explain()


@pytest.mark.parametrize("name", sorted(WRONG))
def test_plausible_wrong_answers_lose_points_in_the_named_tests(graded: dict[str, Graded], name: str) -> None:
    """Each mistake costs points, in the test that names it, with a reason the learner can read."""
    result = graded[f"wrong:{name}"]
    must_fail = WRONG[name][2]
    assert result.score < AUTOGRADED, f"{name} got full marks"
    assert must_fail <= set(result.failed), f"{name}: expected {sorted(must_fail)} to fail\n{result.explain()}"
    assert all(result.failed.values()), f"{name}: a failed test gave no reason\n{result.explain()}"
