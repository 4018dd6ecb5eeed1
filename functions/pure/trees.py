"""Tree ensembles (ai.onnx.ml TreeEnsembleRegressor/Classifier): per-tree arrays and links checked at load."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functions.pure.ml import _post
from functions.pure.tensor import PureError, T, _rows, _sigmoid, _typed

_MODES = {"BRANCH_LEQ": 0, "BRANCH_LT": 1, "BRANCH_GTE": 2, "BRANCH_GT": 3, "BRANCH_EQ": 4, "BRANCH_NEQ": 5,
          "LEAF": -1}


class _Trees:
    """Tree ensemble attributes as per-tree arrays (built once, when the program loads)."""

    def __init__(self, attrs: dict[str, Any], prefix: str) -> None:
        tree_ids, node_ids = attrs["nodes_treeids"], attrs["nodes_nodeids"]
        values = attrs.get("nodes_values") or attrs.get("nodes_values_as_tensor") or []
        modes = attrs["nodes_modes"]
        missing = attrs.get("nodes_missing_value_tracks_true") or [0] * len(tree_ids)
        where: dict[tuple[int, int], tuple[int, int]] = {}
        order: dict[int, int] = {}
        trees: list[dict[str, list[Any]]] = []
        for i, (t, nid) in enumerate(zip(tree_ids, node_ids, strict=True)):
            if t not in order:
                order[t] = len(trees)
                trees.append({"feature": [], "value": [], "mode": [], "true": [], "false": [], "missing": [],
                              "leaf": []})
            tree = trees[order[t]]
            where[(t, nid)] = (order[t], len(tree["mode"]))
            mode = _MODES.get(modes[i])
            if mode is None:
                raise PureError(f"tree node mode {modes[i]!r} is not supported")
            tree["feature"].append(attrs["nodes_featureids"][i])
            tree["value"].append(values[i] if values else 0.0)
            tree["mode"].append(mode)
            tree["missing"].append(bool(missing[i]))
            tree["leaf"].append([])
        for i, t in enumerate(tree_ids):
            tree = trees[order[t]]
            tree["true"].append(where.get((t, attrs["nodes_truenodeids"][i]), (0, -1))[1])
            tree["false"].append(where.get((t, attrs["nodes_falsenodeids"][i]), (0, -1))[1])
        weights = attrs.get(f"{prefix}_weights") or attrs.get(f"{prefix}_weights_as_tensor") or []
        ids = attrs[f"{prefix}_ids"]
        for t, nid, target, w in zip(attrs[f"{prefix}_treeids"], attrs[f"{prefix}_nodeids"], ids, weights,
                                     strict=True):
            ti, ni = where[(t, nid)]
            trees[ti]["leaf"][ni].append((target, w))
        for tr in trees:
            _check_links(tr["mode"], tr["true"], tr["false"])
        self.trees = [(tr["feature"], tr["value"], tr["mode"], tr["true"], tr["false"], tr["missing"], tr["leaf"])
                      for tr in trees]
        self.all_positive = all(w >= 0 for w in weights)
        self.targets_seen = set(ids)

    def scores(self, row: list[float], width: int) -> tuple[list[float], list[bool]]:
        """The sum of leaf weights per target for one row, and which targets any leaf gave a weight to."""
        out = [0.0] * width
        seen = [False] * width
        for feature, value, mode, true, false, missing, leaf in self.trees:
            i = 0
            while True:
                m = mode[i]
                if m < 0:
                    break
                x = row[feature[i]]
                t = value[i]
                if x != x:
                    go = missing[i] or m == 5
                elif m == 0:
                    go = x <= t
                elif m == 1:
                    go = x < t
                elif m == 2:
                    go = x >= t
                elif m == 3:
                    go = x > t
                elif m == 4:
                    go = x == t
                else:
                    go = x != t
                i = true[i] if go else false[i]  # in range and acyclic: checked at load (_check_links)
            for target, w in leaf[i]:
                out[target] += w
                seen[target] = True
        return out, seen


def _check_links(mode: list[int], true: list[int], false: list[int]) -> None:
    """Once, when the program loads: every branch node of a tree (walked from its root, node 0) points at nodes
    inside the tree, and no walk comes back to a node it passed, so every walk ends at a leaf."""
    n = len(mode)
    state = [0] * n  # 0 not seen, 1 on the path being walked, 2 done
    todo: list[tuple[int, bool]] = [(0, False)]
    while todo:
        i, leaving = todo.pop()
        if leaving:
            state[i] = 2
            continue
        if state[i] == 2:
            continue
        if state[i] == 1:
            raise PureError("tree nodes form a cycle")
        if mode[i] < 0:
            state[i] = 2
            continue
        state[i] = 1
        todo.append((i, True))
        for child in (true[i], false[i]):
            if not 0 <= child < n:
                raise PureError("tree node points outside its tree")
            todo.append((child, False))


def _tree_regressor(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    trees = attrs["_trees"]
    width = attrs.get("n_targets", 1)
    base = attrs["_base"]
    agg = attrs.get("aggregate_function", "SUM")
    n_trees = len(trees.trees)
    post = attrs.get("post_transform", "NONE")
    out: list[float] = []
    for row in _rows(a):
        s, _ = trees.scores(row, width)
        if agg == "AVERAGE":
            s = [v / n_trees for v in s]
        if base:
            s = [v + b for v, b in zip(s, base, strict=True)]
        out.extend(_post(post, s))
    return [_typed("float", (len(out) // width, width), out)]


def _tree_classifier(attrs: dict[str, Any], xs: list[T]) -> list[T]:
    (a,) = xs
    trees = attrs["_trees"]
    labels = attrs["_labels"]
    k = len(labels)
    base = attrs["_base"]
    post = attrs.get("post_transform", "NONE")
    scores_out: list[float] = []
    label_out: list[Any] = []
    for row in _rows(a):
        s, seen = trees.scores(row, max(k, 1))
        if k > 2:
            s = [v + (base[c] if c < len(base) else 0.0) for c, v in enumerate(s)]
            label_out.append(labels[max(range(k), key=s.__getitem__)])
            scores_out.extend(_post(post, s))
            continue
        # Two classes: onnxruntime's rules (tree_ensemble_aggregator.h, FinalizeScores / write_scores).
        if len(base) == 2:
            if seen[1]:
                s1 = base[1] + s[0]
                s = [-s1, s1]
            else:
                s = [s[0] + base[0], s[1] + base[1]]
            two = True
        else:
            if len(base) == 1:
                s[0] += base[0]
            two = seen[1]
        if two:
            label_out.append(labels[1] if s[1] > s[0] else labels[0])
            scores_out.extend(_post(post, s))
            continue
        p = s[0]
        if trees.all_positive:
            label_out.append(labels[1] if p > 0.5 else labels[0])
            pair = [1.0 - p, p]  # onnxruntime applies no post_transform here
        else:
            label_out.append(labels[1] if p > 0 else labels[0])
            pair = [_sigmoid(-p), _sigmoid(p)] if post == "LOGISTIC" else [-p, p]
        scores_out.extend(pair)
    n = len(label_out)
    ltype = "string" if attrs.get("classlabels_strings") else "int64"
    return [T(ltype, (n,), label_out), _typed("float", (n, len(scores_out) // n if n else k), scores_out)]


def _prepare_trees(prefix: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def prepare(attrs: dict[str, Any]) -> dict[str, Any]:
        if prefix == "target" and attrs.get("aggregate_function", "SUM") not in ("SUM", "AVERAGE"):
            raise PureError(f"aggregate_function {attrs['aggregate_function']!r} is not supported")
        return {**attrs, "_trees": _Trees(attrs, prefix),
                "_base": attrs.get("base_values") or attrs.get("base_values_as_tensor") or [],
                "_labels": attrs.get("classlabels_strings") or attrs.get("classlabels_int64s") or []}
    return prepare


#: (domain, op type) -> (the function run, what is built from its attributes at load).
TREE_OPS = {
    ("ai.onnx.ml", "TreeEnsembleRegressor"): (_tree_regressor, _prepare_trees("target")),
    ("ai.onnx.ml", "TreeEnsembleClassifier"): (_tree_classifier, _prepare_trees("class")),
}
