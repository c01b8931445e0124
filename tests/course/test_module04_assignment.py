"""The module 04 assignment (fast-lean-and-cached) grades honestly: wrong answers lose points, right ones keep them.

Each variant fills the student version with the reference answers and swaps in one answer cell written the
way a learner plausibly would. All variants are graded together, for real, in one batch per session
(``grade_batch`` in ``conftest.py``), hidden tests included: the speed-up is a ratio against the slow path in
the same run and memory is measured with tracemalloc, so the verdicts do not depend on the machine's load.
"""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import reference_answers, swap

pytestmark = pytest.mark.slow

SLUG = "04-systems-thinking"
NOTEBOOK = f"{SLUG}/fast-lean-and-cached.ipynb"
AUTOGRADED, MANUAL = 24, 4

Graded = Any  # conftest.Graded: score, failed {grade_id: reason}, outcome, max_auto, manual, explain()


REF = reference_answers(NOTEBOOK)


# ---------------------------------------------------------------- correct answers, written differently
DIFFERENT = {
    # np.where and Series.map on the whole frame; np.array_split into the fewest batches that fit
    "fast_score": '''
def fast_score(transactions):
    n = len(transactions)
    if n == 0:
        return np.array([], dtype=float)
    rate = transactions["currency"].map(UNITS_PER_EUR).to_numpy(float)
    hour = transactions["timestamp"].dt.tz_convert("UTC").dt.hour.to_numpy()
    X = np.empty((n, 5))
    X[:, 0] = np.log1p(transactions["amount_cents"].to_numpy(float) / 100.0 / rate)
    X[:, 1] = np.where(transactions["merchant_country"].to_numpy() == transactions["customer_country"].to_numpy(), 0.0, 1.0)
    X[:, 2] = np.where(hour < 6, 1.0, 0.0)
    X[:, 3] = transactions["merchant_category"].map(CATEGORY_RISK).to_numpy(float)
    X[:, 4] = np.where(transactions["channel"].to_numpy() == "in_store", 0.0, 1.0)
    parts = np.array_split(X, math.ceil(n / MAX_BATCH_ROWS))
    return np.concatenate([predict_batch(part) for part in parts])
''',
    # a plain dict (insertion order = recency), expiry checked lazily; frozenset keys
    "ttl_cache": '''
class TTLCache:
    def __init__(self, maxsize, ttl, clock=time.monotonic):
        if maxsize < 1 or ttl <= 0:
            raise ValueError("maxsize must be >= 1 and ttl > 0")
        self.maxsize = maxsize
        self.ttl = ttl
        self.clock = clock
        self.data = {}

    def _fresh(self, key):
        if key not in self.data:
            return False
        if self.clock() - self.data[key][0] < self.ttl:
            return True
        del self.data[key]
        return False

    def get(self, key, default=None):
        if not self._fresh(key):
            return default
        item = self.data.pop(key)
        self.data[key] = item
        return item[1]

    def put(self, key, value):
        for k in list(self.data):
            self._fresh(k)
        self.data.pop(key, None)
        while len(self.data) >= self.maxsize:
            del self.data[next(iter(self.data))]
        self.data[key] = (self.clock(), value)

    def __len__(self):
        return sum(1 for k in list(self.data) if self._fresh(k))

    def __contains__(self, key):
        return self._fresh(key)


def request_key(request):
    return frozenset(request.items())
''',
    # write the header first, then append each chunk with to_csv(mode="a")
    "score_csv_in_chunks": '''
def score_csv_in_chunks(input_path, output_path, *, rows_per_chunk):
    pd.DataFrame(columns=["transaction_id", "score"]).to_csv(output_path, index=False)
    total = 0
    reader = pd.read_csv(input_path, chunksize=rows_per_chunk)
    for chunk in reader:
        out = chunk[["transaction_id"]].assign(score=score_chunk(chunk))
        out.to_csv(output_path, mode="a", header=False, index=False)
        total += len(out)
    return total
''',
}

DIFFERENT_2 = {
    # pandas arithmetic, a while loop over batches
    "fast_score": '''
def fast_score(transactions):
    tx = transactions.reset_index(drop=True)
    euros = tx["amount_cents"] / 100 / tx["currency"].map(UNITS_PER_EUR).astype(float)
    features = pd.DataFrame({
        "log_amount_eur": np.log1p(euros.astype(float)),
        "is_foreign": tx["merchant_country"].ne(tx["customer_country"]).astype(float),
        "is_night": tx["timestamp"].dt.tz_convert("UTC").dt.hour.lt(6).astype(float),
        "category_risk": tx["merchant_category"].map(CATEGORY_RISK).astype(float),
        "is_online": tx["channel"].ne("in_store").astype(float),
    }).to_numpy(dtype=float).reshape(len(tx), 5)
    out = []
    start = 0
    while start < len(features):
        out.append(predict_batch(features[start:start + MAX_BATCH_ROWS]))
        start += MAX_BATCH_ROWS
    return np.concatenate(out) if out else np.zeros(0)
''',
    # timestamps in a heap-free dict, recency in an OrderedDict of keys; JSON keys
    "ttl_cache": '''
import json
from collections import OrderedDict


class TTLCache:
    def __init__(self, maxsize, ttl, clock=time.monotonic):
        if not maxsize >= 1:
            raise ValueError("maxsize")
        if not ttl > 0:
            raise ValueError("ttl")
        self.maxsize, self.ttl, self.clock = maxsize, ttl, clock
        self.values, self.stamps, self.order = {}, {}, OrderedDict()

    def _drop(self, key):
        self.values.pop(key, None)
        self.stamps.pop(key, None)
        self.order.pop(key, None)

    def _expired(self, key):
        return self.clock() >= self.stamps[key] + self.ttl

    def get(self, key, default=None):
        if key not in self.values:
            return default
        if self._expired(key):
            self._drop(key)
            return default
        self.order.move_to_end(key)
        return self.values[key]

    def put(self, key, value):
        for old in [k for k in self.order if self._expired(k)]:
            self._drop(old)
        if key not in self.values and len(self.values) == self.maxsize:
            self._drop(next(iter(self.order)))
        self.values[key], self.stamps[key] = value, self.clock()
        self.order[key] = None
        self.order.move_to_end(key)

    def __len__(self):
        return sum(not self._expired(k) for k in self.values)

    def __contains__(self, key):
        return key in self.values and not self._expired(key)


def request_key(request):
    return json.dumps(request, sort_keys=True, default=str)
''',
    # the csv module and itertools.islice: a chunk of lines at a time
    "score_csv_in_chunks": '''
import csv
import itertools


def score_csv_in_chunks(input_path, output_path, *, rows_per_chunk):
    written = 0
    with open(input_path, newline="") as source, open(output_path, "w", newline="") as target:
        reader = csv.reader(source)
        header = next(reader)
        writer = csv.writer(target)
        writer.writerow(["transaction_id", "score"])
        while True:
            lines = list(itertools.islice(reader, rows_per_chunk))
            if not lines:
                break
            chunk = pd.DataFrame(lines, columns=header).astype(
                {"transaction_id": "int64", "amount_eur": float, "hour": int, "is_foreign": int, "is_online": int, "risk": float}
            )
            scores = score_chunk(chunk)
            writer.writerows(zip(chunk["transaction_id"].tolist(), [repr(float(s)) for s in scores]))
            written += len(lines)
    return written
''',
}

# ---------------------------------------------------------------- plausible wrong answers
FAST = REF["fast_score"]
CACHE = REF["ttl_cache"]
CHUNKS = REF["score_csv_in_chunks"]
BATCH_LOOP = """    for start in range(0, len(transactions), MAX_BATCH_ROWS):
        scores[start:start + MAX_BATCH_ROWS] = predict_batch(features[start:start + MAX_BATCH_ROWS])"""

WRONG = {
    # the features are vectorised, but the model is still called once per row: a "vectorised" path that loops
    "model_called_per_row": (
        "fast_score",
        swap(FAST, BATCH_LOOP, """    for i in range(len(transactions)):
        scores[i] = predict_batch(features[i:i + 1])[0]"""),
        {"test_fast_score_batches", "test_fast_score_is_faster"},
    ),
    # full batches only: the last, partial batch is never scored
    "drops_last_partial_batch": (
        "fast_score",
        swap(FAST, "range(0, len(transactions), MAX_BATCH_ROWS)", "range(0, len(transactions) - MAX_BATCH_ROWS + 1, MAX_BATCH_ROWS)"),
        {"test_fast_score_visible", "test_fast_score_batches"},
    ),
    # one call for everything: the server's limit ignored
    "ignores_max_batch": (
        "fast_score",
        swap(FAST, BATCH_LOOP, "    scores = predict_batch(features) if len(transactions) else scores"),
        {"test_fast_score_visible", "test_fast_score_batches"},
    ),
    # log instead of log1p: close, but not the same feature
    "log_not_log1p": (
        "fast_score",
        swap(FAST, "np.log1p(euros)", "np.log(euros)"),
        {"test_fast_score_visible", "test_fast_score_same_scores"},
    ),
    # the hour of the timestamp as it comes, not in UTC
    "local_hour": (
        "fast_score",
        swap(FAST, 'transactions["timestamp"].dt.tz_convert("UTC").dt.hour', 'transactions["timestamp"].dt.hour'),
        {"test_fast_score_same_scores"},
    ),
    # evicts the most recently added entry instead of the least recently used
    "evicts_newest": (
        "ttl_cache",
        swap(CACHE, "self._entries.popitem(last=False)", "self._entries.popitem(last=True)"),
        {"test_cache_lru"},
    ),
    # a get does not count as use: first in, first out
    "get_does_not_refresh": (
        "ttl_cache",
        swap(CACHE, "        self._entries.move_to_end(key)\n        return entry[1]", "        return entry[1]"),
        {"test_cache_lru"},
    ),
    # fresh while age <= ttl: still served at exactly ttl seconds
    "ttl_off_by_one": (
        "ttl_cache",
        CACHE.replace("now - stamp >= self.ttl", "now - stamp > self.ttl")
        .replace("self.clock() - entry[0] >= self.ttl", "self.clock() - entry[0] > self.ttl")
        .replace("self.clock() - entry[0] < self.ttl", "self.clock() - entry[0] <= self.ttl"),
        {"test_cache_ttl"},
    ),
    # each get restamps the entry: a popular entry never expires
    "get_extends_ttl": (
        "ttl_cache",
        swap(CACHE, "        self._entries.move_to_end(key)\n        return entry[1]",
             "        self._entries[key] = (self.clock(), entry[1])\n        self._entries.move_to_end(key)\n        return entry[1]"),
        {"test_cache_ttl"},
    ),
    # evicts before dropping expired entries: a dead entry takes a live one's place
    "evicts_before_expiring": (
        "ttl_cache",
        swap(CACHE, "        self._purge()\n        if key in self._entries:", "        if key in self._entries:"),
        {"test_cache_ttl"},
    ),
    # keyed on the object: a mutated dict finds its old score, an equal new dict misses
    "keyed_on_id": (
        "ttl_cache",
        swap(CACHE, "    return tuple(sorted(request.items()))", "    return id(request)"),
        {"test_request_key"},
    ),
    # keyed on the field names only
    "keyed_on_field_names": (
        "ttl_cache",
        swap(CACHE, "    return tuple(sorted(request.items()))", "    return tuple(sorted(request))"),
        {"test_request_key"},
    ),
    # reads in chunks, but keeps them all and scores at the end
    "concatenates_before_scoring": (
        "score_csv_in_chunks",
        '''
def score_csv_in_chunks(input_path, output_path, *, rows_per_chunk):
    chunks = [chunk for chunk in pd.read_csv(input_path, chunksize=rows_per_chunk)]
    frame = pd.concat(chunks, ignore_index=True)
    out = pd.DataFrame({"transaction_id": frame["transaction_id"], "score": score_chunk(frame)})
    out.to_csv(output_path, index=False)
    return len(out)
''',
        {"test_chunks_memory", "test_chunks_boundaries"},
    ),
    # reads the whole file, then loops over slices of it
    "reads_whole_file": (
        "score_csv_in_chunks",
        '''
def score_csv_in_chunks(input_path, output_path, *, rows_per_chunk):
    frame = pd.read_csv(input_path)
    with open(output_path, "w") as out:
        out.write("transaction_id,score\\n")
        for start in range(0, len(frame), rows_per_chunk):
            chunk = frame.iloc[start:start + rows_per_chunk]
            pd.DataFrame({"transaction_id": chunk["transaction_id"], "score": score_chunk(chunk)}).to_csv(out, header=False, index=False)
    return len(frame)
''',
        {"test_chunks_memory"},
    ),
    # stops at the first short chunk: the last, partial chunk is lost
    "drops_last_partial_chunk": (
        "score_csv_in_chunks",
        swap(CHUNKS, "        for chunk in pd.read_csv(input_path, chunksize=rows_per_chunk):\n",
             "        for chunk in pd.read_csv(input_path, chunksize=rows_per_chunk):\n            if len(chunk) < rows_per_chunk:\n                break\n"),
        {"test_chunks_visible", "test_chunks_boundaries"},
    ),
    # a header line with every chunk
    "header_per_chunk": (
        "score_csv_in_chunks",
        swap(CHUNKS, "scored.to_csv(out, header=False, index=False)", "scored.to_csv(out, header=True, index=False)"),
        {"test_chunks_visible", "test_chunks_boundaries"},
    ),
    # a fixed chunk size: rows_per_chunk ignored
    "ignores_rows_per_chunk": (
        "score_csv_in_chunks",
        swap(CHUNKS, "pd.read_csv(input_path, chunksize=rows_per_chunk)", "pd.read_csv(input_path, chunksize=10_000)"),
        {"test_chunks_boundaries"},
    ),
    # appends to whatever the output held: a rerun duplicates last night's rows
    "appends_to_old_output": (
        "score_csv_in_chunks",
        swap(CHUNKS, 'with open(output_path, "w", newline="") as out:\n        out.write("transaction_id,score\\n")',
             'fresh = not Path(output_path).exists()\n    with open(output_path, "a", newline="") as out:\n        if fresh:\n            out.write("transaction_id,score\\n")'),
        {"test_chunks_empty_and_rerun"},
    ),
}

RIGHT = {"reference": {}, "different": DIFFERENT, "different_2": DIFFERENT_2}


@pytest.fixture(scope="session")
def graded(grade_batch: Any) -> dict[str, Graded]:
    variants = {f"right:{name}": answers for name, answers in RIGHT.items()}
    variants |= {f"wrong:{name}": {grade_id: code} for name, (grade_id, code, _) in WRONG.items()}
    return grade_batch("04", NOTEBOOK, variants)


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


def test_each_task_has_four_wrong_and_two_different_right_answers() -> None:
    for task in ("fast_score", "ttl_cache", "score_csv_in_chunks"):
        assert sum(grade_id == task for grade_id, _, _ in WRONG.values()) >= 4, task
        assert task in DIFFERENT and task in DIFFERENT_2, task
