"""The module 03 assignment (drift-alerts-and-gates) grades honestly: wrong answers lose points, right ones keep them.

Each variant fills the student version with the reference answers and swaps in one answer cell written the
way a learner plausibly would. All variants are graded together, for real, in one batch per session
(``grade_batch`` in ``conftest.py``), hidden tests included: fresh clean and drifted replays with seeds the
learner never saw, and canaries built so that a gate comparing the wrong things decides wrong.
"""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import reference_answers, swap

pytestmark = pytest.mark.slow

SLUG = "03-evaluation-and-monitoring"
NOTEBOOK = f"{SLUG}/drift-alerts-and-gates.ipynb"
AUTOGRADED, MANUAL = 14, 4

Graded = Any  # conftest.Graded: score, failed {grade_id: reason}, outcome, max_auto, manual, explain()


REF = reference_answers(NOTEBOOK)


# ---------------------------------------------------------------- correct answers, written differently
DIFFERENT = {
    # total variation distance on category shares and the KS *statistic* (not its p-value) on log amounts,
    # over today and yesterday pooled, with thresholds read off clean replays
    "daily_alerts": '''def _shares(frame, column, categories):
    counts = frame[column].value_counts()
    return counts.reindex(categories, fill_value=0) / max(len(frame), 1)


def _log_amounts(frame):
    return np.log(frame["amount_cents"] / 100 / frame["currency"].map(UNITS_PER_EUR))


def daily_alerts(reference, days):
    limits = {"merchant_category": 0.12, "channel": 0.08}
    reference_amounts = _log_amounts(reference).to_numpy()
    answers = []
    for i in range(len(days)):
        for column in ("merchant_category", "channel", "amount_cents", "currency"):
            if column not in days[i].columns:
                raise ValueError(f"day {i}: {column} is missing")
        pooled = pd.concat(days[max(0, i - 1): i + 1])
        fire = False
        for column, limit in limits.items():
            categories = sorted(set(reference[column]) | set(pooled[column].dropna()))
            distance = 0.5 * (_shares(pooled, column, categories) - _shares(reference, column, categories)).abs().sum()
            fire = fire or distance > limit
        ks = stats.ks_2samp(reference_amounts, _log_amounts(pooled).to_numpy()).statistic
        answers.append(bool(fire or ks > 0.09))
    return answers
''',
    # a normal approximation with a cluster-robust (per card) standard error instead of a bootstrap
    "promotion_gate": '''def promotion_gate(log, labels, *, as_of, min_frauds=30, confidence=0.90, maturity_days=21, review_cost_eur=5.0, seed=0):
    for column in ("transaction_id", "timestamp", "card_id", "amount_eur", "champion_flagged", "challenger_flagged"):
        if column not in log.columns:
            raise ValueError(f"log has no {column}")
    for column in ("transaction_id", "is_fraud", "label_available_at"):
        if column not in labels.columns:
            raise ValueError(f"labels have no {column}")
    old = log[log["timestamp"] <= as_of - pd.Timedelta(days=maturity_days)].copy()
    arrived = labels[labels["label_available_at"] <= as_of]
    frauds = set(arrived.loc[arrived["is_fraud"] == 1, "transaction_id"])
    old["fraud"] = old["transaction_id"].isin(frauds)
    if old["fraud"].sum() < min_frauds:
        return "wait"
    def cost(flag):
        return review_cost_eur * old[flag] + (old["fraud"] & ~old[flag]) * old["amount_eur"]
    old["diff"] = cost("challenger_flagged") - cost("champion_flagged")
    cards = old.groupby("card_id")["diff"].agg(["sum", "size"])
    ratio = cards["sum"].sum() / cards["size"].sum()
    n = len(cards)
    residual = cards["sum"] - ratio * cards["size"]
    se = np.sqrt(n / (n - 1) * (residual ** 2).sum()) / cards["size"].sum()
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    if ratio - z * se > 0:
        return "rollback"
    if ratio + z * se < 0:
        return "promote"
    return "wait"
''',
}

DIFFERENT_2 = {
    # the reference's PSI, but per day with a 3-day median instead of pooling, and rules written as a table
    "daily_alerts": swap(
        swap(REF["daily_alerts"],
             '        window = pd.concat(days[max(0, i - 1): i + 1], ignore_index=True)  # today and yesterday: less noise\n'
             '        scores = drift_scores(reference, window)\n',
             '        scores = drift_scores(reference, pd.concat([days[j] for j in range(max(0, i - 1), i + 1)]))\n'),
        'THRESHOLDS = {"merchant_category": 0.085, "channel": 0.032, "amount": 0.05}',
        'THRESHOLDS = dict(zip(["merchant_category", "channel", "amount"], [0.085, 0.032, 0.05]))'),
    # a Poisson bootstrap (each card weighted by a Poisson(1) draw), vectorised
    "promotion_gate": '''def promotion_gate(log, labels, *, as_of, min_frauds=30, confidence=0.90, maturity_days=21, review_cost_eur=5.0, seed=0):
    frame = log[["transaction_id", "timestamp", "card_id", "amount_eur", "champion_flagged", "challenger_flagged"]]
    frame = frame[frame["timestamp"] <= as_of - pd.Timedelta(days=maturity_days)]
    known = labels[["transaction_id", "is_fraud", "label_available_at"]]
    known = known[(known["label_available_at"] <= as_of) & (known["is_fraud"] == 1)]
    fraud = frame["transaction_id"].isin(known["transaction_id"]).to_numpy()
    if int(fraud.sum()) < min_frauds:
        return "wait"
    amount = frame["amount_eur"].to_numpy()
    champion = frame["champion_flagged"].to_numpy(bool)
    challenger = frame["challenger_flagged"].to_numpy(bool)
    diff = review_cost_eur * (challenger.astype(float) - champion) + amount * ((fraud & ~challenger).astype(float) - (fraud & ~champion))
    codes, _ = pd.factorize(frame["card_id"])
    sums = np.bincount(codes, weights=diff)
    counts = np.bincount(codes).astype(float)
    weights = np.random.default_rng(seed).poisson(1.0, size=(2000, len(sums)))
    draws = (weights @ sums) / np.maximum(weights @ counts, 1.0)
    low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    return "rollback" if low > 0 else "promote" if high < 0 else "wait"
''',
}

# ---------------------------------------------------------------- plausible wrong answers
WRONG = {
    # the textbook: a significance test per day at p < 0.01; with hundreds of rows every weekend is "significant"
    "textbook_p_values": (
        "daily_alerts",
        '''def daily_alerts(reference, days):
    answers = []
    ref_eur = reference["amount_cents"] / 100 / reference["currency"].map(UNITS_PER_EUR)
    for day in days:
        eur = day["amount_cents"] / 100 / day["currency"].map(UNITS_PER_EUR)
        p_values = [stats.ks_2samp(ref_eur, eur).pvalue]
        for column in ("merchant_category", "channel"):
            table = pd.concat([reference[column].value_counts(), day[column].value_counts()], axis=1).fillna(0)
            p_values.append(stats.chi2_contingency(table.to_numpy()).pvalue)
        answers.append(min(p_values) < 0.01)
    return answers
''',
        {"test_daily_alerts_quiet_on_clean_weeks"},
    ),
    # tuned to the visible example: it watches the one statistic merchant_mix moves (the digital-goods share)
    "watches_the_visible_scenario": (
        "daily_alerts",
        '''def daily_alerts(reference, days):
    base = (reference["merchant_category"] == "digital_goods").mean()
    for day in days:
        day[["merchant_category", "channel", "amount_cents", "currency"]]
    return [bool((pd.concat(days[max(0, i - 1): i + 1])["merchant_category"] == "digital_goods").mean() > 1.4 * base)
            for i in range(len(days))]
''',
        {"test_daily_alerts_fire_within_delay"},
    ),
    # off by one: the window is the two days *before* today, so the alert runs a day late
    "window_excludes_today": (
        "daily_alerts",
        swap(REF["daily_alerts"], "days[max(0, i - 1): i + 1]", "days[max(0, i - 2): max(i, 1)]"),
        {"test_daily_alerts_fire_within_delay"},
    ),
    # peeks at tomorrow to smooth the noise: fires before the drift, and changes its past answers
    "looks_ahead": (
        "daily_alerts",
        swap(REF["daily_alerts"], "days[max(0, i - 1): i + 1]", "days[i: i + 2]"),
        {"test_daily_alerts_fire_within_delay"},
    ),
    # a broken input is scored as "all quiet"
    "swallowed_missing_column": (
        "daily_alerts",
        swap(REF["daily_alerts"], """        missing = [c for c in (*WATCHED, "amount_cents", "currency") if c not in day.columns]
        if missing:
            raise KeyError(f"day {i} has no {', '.join(missing)} column")
        window = pd.concat(days[max(0, i - 1): i + 1], ignore_index=True)  # today and yesterday: less noise
        scores = drift_scores(reference, window)
        fired.append(any(scores[name] > limit for name, limit in THRESHOLDS.items()))
""", """        try:
            scores = drift_scores(reference, pd.concat(days[max(0, i - 1): i + 1], ignore_index=True))
            fired.append(any(scores[name] > limit for name, limit in THRESHOLDS.items()))
        except Exception:
            fired.append(False)
"""),
        {"test_daily_alerts_fire_within_delay"},
    ),
    # a threshold loose enough never to page anyone: quiet, and useless
    "never_fires": (
        "daily_alerts",
        swap(REF["daily_alerts"], 'THRESHOLDS = {"merchant_category": 0.085, "channel": 0.032, "amount": 0.05}',
             'THRESHOLDS = {"merchant_category": 0.5, "channel": 0.5, "amount": 0.5}'),
        {"test_daily_alerts_visible", "test_daily_alerts_fire_within_delay"},
    ),
    # the point estimate decides: no minimum of frauds, no interval
    "point_estimate_only": (
        "promotion_gate",
        swap(swap(REF["promotion_gate"], "    if fraud.sum() < min_frauds:\n        return \"wait\"\n", ""),
             '''    if low > 0:
        return "rollback"
    if high < 0:
        return "promote"
    return "wait"''', '''    mean = sums.sum() / counts.sum()
    return "rollback" if mean > 0 else "promote" if mean < 0 else "wait"'''),
        {"test_promotion_gate_evidence"},
    ),
    # each model priced on its own arm: a comparison of two different sets of cards
    "compares_arms": (
        "promotion_gate",
        swap(REF["promotion_gate"], """    diff = pd.Series(cost["challenger"] - cost["champion"])
    per_card = diff.groupby(sent["card_id"].to_numpy()).agg(["sum", "count"])
    sums, counts = per_card["sum"].to_numpy(), per_card["count"].to_numpy()
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(1000):
        pick = rng.integers(0, len(sums), size=len(sums))
        draws.append(sums[pick].sum() / counts[pick].sum())
""", """    on_challenger = (sent["arm"] == "challenger").to_numpy()
    arms = []
    for rows, model in ((on_challenger, "challenger"), (~on_challenger, "champion")):
        per_card = pd.Series(cost[model][rows]).groupby(sent["card_id"].to_numpy()[rows]).agg(["sum", "count"])
        arms.append((per_card["sum"].to_numpy(), per_card["count"].to_numpy()))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(1000):
        means = []
        for sums, counts in arms:
            pick = rng.integers(0, len(sums), size=len(sums))
            means.append(sums[pick].sum() / counts[pick].sum())
        draws.append(means[0] - means[1])
"""),
        {"test_promotion_gate_same_traffic_known_labels"},
    ),
    # the final labels, whenever they arrive: a gate nobody could have run on the decision day
    "labels_from_the_future": (
        "promotion_gate",
        swap(REF["promotion_gate"], '''labels.loc[(labels["label_available_at"] <= as_of) & (labels["is_fraud"] == 1), "transaction_id"]''',
             '''labels.loc[labels["is_fraud"] == 1, "transaction_id"]'''),
        {"test_promotion_gate_same_traffic_known_labels"},
    ),
    # every request sent by as_of counts, even yesterday's with none of its chargebacks in yet
    "ignores_maturity": (
        "promotion_gate",
        swap(REF["promotion_gate"], '''log.loc[log["timestamp"] <= as_of - pd.Timedelta(days=maturity_days)]''',
             '''log.loc[log["timestamp"] <= as_of]'''),
        {"test_promotion_gate_evidence"},
    ),
    # any problem means "wait": a broken log never raises
    "swallowed_errors": (
        "promotion_gate",
        "def promotion_gate(log, labels, **kwargs):\n    try:\n        return _gate(log, labels, **kwargs)\n"
        "    except Exception:\n        return \"wait\"\n\n\n"
        + swap(swap(REF["promotion_gate"], "def promotion_gate(", "def _gate("),
               '''    if missing:
        raise KeyError(f"missing columns: {missing}")
''', ""),
        {"test_promotion_gate_same_traffic_known_labels"},
    ),
}

RIGHT = {"reference": {}, "different": DIFFERENT, "different_2": DIFFERENT_2}


@pytest.fixture(scope="session")
def graded(grade_batch: Any) -> dict[str, Graded]:
    variants = {f"right:{name}": answers for name, answers in RIGHT.items()}
    variants |= {f"wrong:{name}": {grade_id: code} for name, (grade_id, code, _) in WRONG.items()}
    return grade_batch("03", NOTEBOOK, variants)


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
