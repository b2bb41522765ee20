#!/usr/bin/python3
"""Python oracle for internal/model's tests (docs/models.md, "Formats").

Usage: oracle.py TRAIN_LIST EVAL_LIST OUTDIR
       oracle.py --seeds DIR   (the small models of testdata/seeds)
       oracle.py --bench DIR   (BenchmarkEval's models)

TRAIN_LIST and EVAL_LIST are files naming one nfstream CSV output (run with
--stats) per line; the flows of the first train the models, those of the
second (other captures) are predicted. The script trains with Debian's
scikit-learn and XGBoost, exports

  - sklearn RandomForest / ExtraTrees / GradientBoosting classifiers and
    DecisionTree / RandomForest regressors to ONNX-ML with the small converter
    below (onnx.helper from the fitted trees; Debian has no skl2onnx),
  - XGBoost models with Booster.save_model (JSON),

and writes OUTDIR/expect.json: for each model its file, the evaluation rows
(null = missing), and what Python's predict and predict_proba (or the
regressor's predict) return for them. It also writes small hand-built ONNX
models covering every node mode, post_transform and aggregate_function, with
outputs computed here in plain Python, after onnxruntime's documented
behaviour (python3-onnx 1.12 has no reference evaluator).
"""
import json
import math
import os
import sys

import numpy as np
import pandas as pd
import xgboost as xgb
import onnx
from onnx import TensorProto, helper
from sklearn.ensemble import (ExtraTreesClassifier, GradientBoostingClassifier,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.tree import DecisionTreeRegressor

FEATURES = [
    "bidirectional_duration_ms", "bidirectional_packets", "bidirectional_bytes",
    "src2dst_duration_ms", "src2dst_packets", "src2dst_bytes",
    "dst2src_duration_ms", "dst2src_packets", "dst2src_bytes",
    "bidirectional_min_ps", "bidirectional_mean_ps", "bidirectional_stddev_ps",
    "bidirectional_max_ps", "src2dst_mean_ps", "dst2src_mean_ps",
    "bidirectional_mean_piat_ms", "bidirectional_max_piat_ms",
    "bidirectional_syn_packets", "bidirectional_ack_packets",
    "bidirectional_psh_packets", "bidirectional_rst_packets",
    "bidirectional_fin_packets",
]
CATEGORIES = ["Unspecified", "Network", "Web", "VoIP"]
ML = "ai.onnx.ml"


def load(listfile):
    with open(listfile) as f:
        names = [l.strip() for l in f if l.strip()]
    frames = [pd.read_csv(n) for n in names]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True)


def f32_floor(t):
    """The largest float32 <= t: for a float32 x, x <= t iff x <= f32_floor(t),
    so the ONNX tree (float32 thresholds) splits as sklearn (float32 inputs,
    float64 thresholds) does."""
    v = np.float32(t)
    if float(v) > t:
        v = np.nextafter(v, np.float32(-np.inf))
    return float(v)


def tree_nodes(tree, tid, attrs, leaf_weights):
    """Adds one sklearn tree's nodes to attrs; leaf_weights(node) gives the
    (target, weight) votes of a leaf."""
    t = tree.tree_
    for i in range(t.node_count):
        attrs["nodes_treeids"].append(tid)
        attrs["nodes_nodeids"].append(i)
        leaf = t.children_left[i] == -1
        attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
        attrs["nodes_featureids"].append(0 if leaf else int(t.feature[i]))
        attrs["nodes_values"].append(0.0 if leaf else f32_floor(t.threshold[i]))
        attrs["nodes_truenodeids"].append(0 if leaf else int(t.children_left[i]))
        attrs["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[i]))
        attrs["nodes_missing_value_tracks_true"].append(0)
        attrs["nodes_hitrates"].append(1.0)
        if leaf:
            for k, w in leaf_weights(t, i):
                attrs["w_treeids"].append(tid)
                attrs["w_nodeids"].append(i)
                attrs["w_ids"].append(k)
                attrs["w_weights"].append(float(w))


def new_attrs():
    return {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_modes", "nodes_featureids",
                            "nodes_values", "nodes_truenodeids", "nodes_falsenodeids",
                            "nodes_missing_value_tracks_true", "nodes_hitrates",
                            "w_treeids", "w_nodeids", "w_ids", "w_weights")}


def onnx_model(path, op, attrs, nfeat, features, labels=None, zipmap=False, extra_label_node=None, **kw):
    """Writes a model input -> op [-> ZipMap]."""
    inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, nfeat])
    nodes, outputs = [], []
    a = {k: v for k, v in attrs.items() if not k.startswith("w_")}
    a.update(kw)
    if op == "TreeEnsembleClassifier":
        a["class_treeids"], a["class_nodeids"] = attrs["w_treeids"], attrs["w_nodeids"]
        a["class_ids"], a["class_weights"] = attrs["w_ids"], attrs["w_weights"]
        strings = isinstance(labels[0], str)
        if strings:
            a["classlabels_strings"] = labels
        else:
            a["classlabels_int64s"] = [int(l) for l in labels]
        ltype = TensorProto.STRING if strings else TensorProto.INT64
        lname = "label0" if extra_label_node else "label"
        nodes.append(helper.make_node(op, ["input"], [lname, "probabilities"], domain=ML, **a))
        if extra_label_node == "Cast":
            nodes.append(helper.make_node("Cast", [lname], ["label"], to=TensorProto.INT64))
        elif extra_label_node == "Identity":
            nodes.append(helper.make_node("Identity", [lname], ["label"]))
        outputs.append(helper.make_tensor_value_info("label", ltype, [None]))
        if zipmap:
            zk = {"classlabels_strings": labels} if strings else {"classlabels_int64s": [int(l) for l in labels]}
            nodes.append(helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain=ML, **zk))
            kt = TensorProto.STRING if strings else TensorProto.INT64
            mt = onnx.TypeProto()
            mt.map_type.key_type = kt
            mt.map_type.value_type.CopyFrom(helper.make_tensor_type_proto(TensorProto.FLOAT, []))
            vi = onnx.ValueInfoProto(name="output_probability")
            vi.type.sequence_type.elem_type.CopyFrom(mt)
            outputs.append(vi)
        else:
            outputs.append(helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(labels)]))
    else:
        a["target_treeids"], a["target_nodeids"] = attrs["w_treeids"], attrs["w_nodeids"]
        a["target_ids"], a["target_weights"] = attrs["w_ids"], attrs["w_weights"]
        a.setdefault("n_targets", 1)
        nodes.append(helper.make_node(op, ["input"], ["variable"], domain=ML, **a))
        outputs.append(helper.make_tensor_value_info("variable", TensorProto.FLOAT, [None, 1]))
    graph = helper.make_graph(nodes, "nfstream_test", [inp], outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15), helper.make_opsetid(ML, 3)],
                              producer_name="nfstream-oracle")
    if features:
        helper.set_model_props(model, {"features": ",".join(features)})
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def convert_forest(est, path, features, zipmap=False, extra=None):
    attrs = new_attrs()
    n = len(est.estimators_)

    def votes(t, i):
        v = t.value[i][0]
        return [(k, v[k] / v.sum() / n) for k in range(len(v))]
    for tid, tree in enumerate(est.estimators_):
        tree_nodes(tree, tid, attrs, votes)
    onnx_model(path, "TreeEnsembleClassifier", attrs, len(features), features, labels=list(est.classes_),
               zipmap=zipmap, extra_label_node=extra, post_transform="NONE")


def convert_gb(est, X, path, features, zipmap=False, extra=None):
    attrs = new_attrs()
    lr = est.learning_rate
    k_trees = est.estimators_.shape[1]
    tid = 0
    for stage in est.estimators_:
        for k, tree in enumerate(stage):
            tree_nodes(tree, tid, attrs, lambda t, i, k=k: [(k, lr * t.value[i][0][0])])
            tid += 1
    base = [float(b) for b in est._raw_predict_init(X[:1])[0]]
    # A class that the trees separate perfectly can get leaf values beyond
    # float32's range (sklearn computes in float64): no float32 format can
    # hold such a model, so the test data must not have one.
    big = max(abs(w) for w in attrs["w_weights"])
    assert big < 1e30, "GradientBoosting leaf value %g overflows float32" % big
    post = "LOGISTIC" if k_trees == 1 else "SOFTMAX"
    onnx_model(path, "TreeEnsembleClassifier", attrs, len(features), features, labels=list(est.classes_),
               zipmap=zipmap, extra_label_node=extra, post_transform=post, base_values=base)


def convert_regressor(est, path, features, aggregate):
    attrs = new_attrs()
    trees = est.estimators_ if hasattr(est, "estimators_") else [est]
    for tid, tree in enumerate(trees):
        tree_nodes(tree, tid, attrs, lambda t, i: [(0, t.value[i][0][0])])
    onnx_model(path, "TreeEnsembleRegressor", attrs, len(features), features,
               aggregate_function=aggregate, post_transform="NONE")


def rows_json(X):
    return [[None if (isinstance(v, float) and math.isnan(v)) else float(v) for v in r] for r in X]


def label_json(l):
    if isinstance(l, (str, np.str_)):
        return str(l)
    return int(l)


def classifier_case(name, est, X, file, tol=1e-6):
    proba = est.predict_proba(X)
    pred = est.predict(X)
    return {"name": name, "file": file, "rows": rows_json(np.asarray(X)), "labels": [label_json(l) for l in pred],
            "proba": [[float(p) for p in r] for r in proba], "tol": tol}


def regressor_case(name, est, X, file, tol=1e-6):
    return {"name": name, "file": file, "rows": rows_json(np.asarray(X)),
            "values": [float(v) for v in est.predict(X)], "tol": tol}


def xgb_trees(js):
    gb = js["learner"]["gradient_booster"]
    return (gb["gbtree"] if gb["name"] == "dart" else gb)["model"]["trees"]


def near_thresholds(booster_json, X, rng, count=60):
    """Rows of X with one feature set on, just below, just above a split
    condition of the model (float32 neighbours and float64 values that round
    to it)."""
    trees = xgb_trees(booster_json)
    out = []
    for j in range(count):
        t = trees[rng.integers(len(trees))]
        inner = [i for i, l in enumerate(t["left_children"]) if l != -1]
        if not inner:
            continue
        i = inner[rng.integers(len(inner))]
        f, c = t["split_indices"][i], np.float32(t["split_conditions"][i])
        row = X[rng.integers(len(X))].copy()
        for v in (float(c), float(np.nextafter(c, np.float32(np.inf))), float(np.nextafter(c, np.float32(-np.inf))),
                  float(c) * (1 + 1e-12) if c else 1e-300, float(c) * (1 - 1e-12) if c else -1e-300):
            r = row.copy()
            r[f] = v
            out.append(r)
    return np.array(out)


def near_sklearn_thresholds(est, X, rng, count=60):
    """Rows of X with one feature set on a split threshold of the sklearn
    model, on its float32 rounding down and up, and a float64 hair above and
    below: sklearn compares float32(x) <= threshold (float64)."""
    trees = list(np.ravel(est.estimators_)) if hasattr(est, "estimators_") else [est]
    out = []
    for j in range(count):
        t = trees[rng.integers(len(trees))].tree_
        inner = [i for i in range(t.node_count) if t.children_left[i] != -1]
        if not inner:
            continue
        i = inner[rng.integers(len(inner))]
        f, c = t.feature[i], float(t.threshold[i])
        lo = np.float32(f32_floor(c))
        row = X[rng.integers(len(X))].copy()
        for v in (c, float(lo), float(np.nextafter(lo, np.float32(np.inf))), c * (1 + 1e-12), c * (1 - 1e-12),
                  float(lo) + (float(np.nextafter(lo, np.float32(np.inf))) - float(lo)) * 0.49):
            r = row.copy()
            r[f] = v
            out.append(r)
    return np.vstack([X, np.array(out)])


def with_missing(X, rng, frac=0.2):
    X = X.copy()
    mask = rng.random(X.shape) < frac
    X[mask] = np.nan
    return X


def main():
    train, evaluate, out = sys.argv[1], sys.argv[2], sys.argv[3]
    tr, ev = load(train), load(evaluate)
    rng = np.random.default_rng(13)
    X = tr[FEATURES].to_numpy(dtype=np.float64)
    Xe = ev[FEATURES].to_numpy(dtype=np.float64)
    cat = tr["application_category_name"].where(tr["application_category_name"].isin(CATEGORIES), "Other").to_numpy()
    web = (tr["application_category_name"] == "Web").astype(int).to_numpy()
    # int labels that are not 0..n-1: the IP protocol, 0 for the rare ones
    proto = tr["protocol"].to_numpy()
    proto = np.where(np.isin(proto, [1, 6, 17]), proto, 0)
    cases = []
    p = lambda n: os.path.join(out, n)

    # ONNX, from sklearn.
    rf = RandomForestClassifier(n_estimators=30, max_depth=10, random_state=1).fit(X, cat)
    convert_forest(rf, p("rf_strings.onnx"), FEATURES, zipmap=True, extra="Identity")
    cases.append(classifier_case("RandomForest string labels + ZipMap", rf, near_sklearn_thresholds(rf, Xe, rng), "rf_strings.onnx"))

    et = ExtraTreesClassifier(n_estimators=20, max_depth=12, random_state=2).fit(X, web)
    convert_forest(et, p("et_binary.onnx"), FEATURES)
    cases.append(classifier_case("ExtraTrees two classes", et, near_sklearn_thresholds(et, Xe, rng), "et_binary.onnx"))

    gbb = GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=3).fit(X, web)
    convert_gb(gbb, X, p("gb_binary.onnx"), FEATURES, zipmap=True)
    cases.append(classifier_case("GradientBoosting binary", gbb, near_sklearn_thresholds(gbb, Xe, rng), "gb_binary.onnx"))

    gbm = GradientBoostingClassifier(n_estimators=25, max_depth=3, min_samples_leaf=10, random_state=4).fit(X, proto)
    convert_gb(gbm, X, p("gb_multi.onnx"), FEATURES, extra="Cast")
    cases.append(classifier_case("GradientBoosting multi-class int labels", gbm, near_sklearn_thresholds(gbm, Xe, rng), "gb_multi.onnx"))

    reg_feats = [f for f in FEATURES if f != "src2dst_mean_ps"]
    Xr, Xre = tr[reg_feats].to_numpy(dtype=np.float64), ev[reg_feats].to_numpy(dtype=np.float64)
    yr = tr["src2dst_mean_ps"].to_numpy(dtype=np.float64)
    dt = DecisionTreeRegressor(max_depth=8, random_state=5).fit(Xr, yr)
    convert_regressor(dt, p("dt_regressor.onnx"), reg_feats, "SUM")
    cases.append(regressor_case("DecisionTree regressor", dt, near_sklearn_thresholds(dt, Xre, rng), "dt_regressor.onnx"))
    rfr = RandomForestRegressor(n_estimators=10, max_depth=6, random_state=6).fit(Xr, yr)
    convert_regressor(rfr, p("rf_regressor.onnx"), reg_feats, "AVERAGE")
    cases.append(regressor_case("RandomForest regressor", rfr, near_sklearn_thresholds(rfr, Xre, rng), "rf_regressor.onnx"))

    # XGBoost: trained with some missing values so default_left varies, and
    # evaluated on the rows as they are, with missing values, and near split
    # conditions.
    Xm = with_missing(X, rng, 0.1)
    cat_codes = np.array([(CATEGORIES + ["Other"]).index(c) for c in cat])
    xgb_models = [
        ("xgb_binary.json", "XGBoost binary:logistic", xgb.XGBClassifier(n_estimators=30, max_depth=4, objective="binary:logistic"), web, None),
        ("xgb_softprob.json", "XGBoost multi:softprob", xgb.XGBClassifier(n_estimators=15, max_depth=4, objective="multi:softprob"), cat_codes, None),
        ("xgb_softmax.json", "XGBoost multi:softmax", xgb.XGBClassifier(n_estimators=15, max_depth=4, objective="multi:softmax"), cat_codes, None),
        ("xgb_regressor.json", "XGBoost reg:squarederror", xgb.XGBRegressor(n_estimators=30, max_depth=5, objective="reg:squarederror"), yr, "reg"),
        ("xgb_early.json", "XGBoost early stopping (best_iteration)", xgb.XGBClassifier(n_estimators=200, max_depth=6, learning_rate=0.5, objective="binary:logistic", early_stopping_rounds=3), web, "early"),
        ("xgb_base_score.json", "XGBoost binary:logistic base_score 0.3", xgb.XGBClassifier(n_estimators=10, max_depth=3, base_score=0.3), web, None),
        ("xgb_rf.json", "XGBoost random forest (num_parallel_tree 12)", xgb.XGBRFClassifier(n_estimators=12, max_depth=5), cat_codes, None),
        ("xgb_dart.json", "XGBoost dart binary:logistic", xgb.XGBClassifier(n_estimators=10, max_depth=3, booster="dart", rate_drop=0.3, objective="binary:logistic"), web, None),
    ]
    for file, name, est, y, how in xgb_models:
        feats = reg_feats if how == "reg" else FEATURES
        Xt = pd.DataFrame(with_missing(Xr, rng, 0.1) if how == "reg" else Xm, columns=feats)
        Xv = Xre if how == "reg" else Xe
        if how == "early":
            half = len(Xt) // 2
            est.fit(Xt[:half], y[:half], eval_set=[(Xt[half:], y[half:])], verbose=False)
        else:
            est.fit(Xt, y)
        est.get_booster().save_model(p(file))
        with open(p(file)) as f:
            js = json.load(f)
        rows = np.vstack([Xv, with_missing(Xv, rng, 0.3), near_thresholds(js, Xv, rng)])
        rows_df = pd.DataFrame(rows, columns=feats)
        if how == "reg":
            c = regressor_case(name, est, rows_df, file)
        else:
            c = classifier_case(name, est, rows_df, file)
        c["rows"] = rows_json(rows)
        if how == "early":
            c["best_iteration"] = int(est.best_iteration)
            c["trees"] = len(xgb_trees(js))
        cases.append(c)

    cases += hand_built(out)
    with open(p("expect.json"), "w") as f:
        json.dump(cases, f)


# Hand-built ONNX models: every node mode, missing value tracking,
# post_transform and aggregate_function, computed here in plain Python.

MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def f32(v):
    return float(np.float32(v))


def cmp(mode, x, t):
    return {"BRANCH_LEQ": x <= t, "BRANCH_LT": x < t, "BRANCH_GTE": x >= t,
            "BRANCH_GT": x > t, "BRANCH_EQ": x == t, "BRANCH_NEQ": x != t}[mode]


def small_forest(ntargets, seed, negative=True):
    """Three trees of depth 2 on 2 features, each inner node a different
    mode, thresholds float32 values; leaves vote for every target. Returns
    (attrs, trees) where trees lists for each tree its nodes as dicts."""
    r = np.random.default_rng(seed)
    attrs = new_attrs()
    trees = []
    for tid in range(3):
        nodes = []
        for i in range(7):
            inner = i < 3
            mode = MODES[(tid * 3 + i) % 6] if inner else "LEAF"
            nd = {"mode": mode, "feature": int(i % 2), "value": f32(r.choice([0.5, 1.0, 1.5, 2.0, 0.1])),
                  "true": 2 * i + 1, "false": 2 * i + 2, "track": int((tid + i) % 2), "w": []}
            if not inner:
                nd["value"], nd["true"], nd["false"], nd["track"] = 0.0, 0, 0, 0
                for k in range(ntargets):
                    lo = -1.0 if negative else 0.0
                    nd["w"].append((k, f32(r.uniform(lo, 1.0))))
            nodes.append(nd)
        trees.append(nodes)
        for i, nd in enumerate(nodes):
            attrs["nodes_treeids"].append(tid)
            attrs["nodes_nodeids"].append(i)
            attrs["nodes_modes"].append(nd["mode"])
            attrs["nodes_featureids"].append(nd["feature"])
            attrs["nodes_values"].append(nd["value"])
            attrs["nodes_truenodeids"].append(nd["true"])
            attrs["nodes_falsenodeids"].append(nd["false"])
            attrs["nodes_missing_value_tracks_true"].append(nd["track"])
            attrs["nodes_hitrates"].append(1.0)
            for k, w in nd["w"]:
                attrs["w_treeids"].append(tid)
                attrs["w_nodeids"].append(i)
                attrs["w_ids"].append(k)
                attrs["w_weights"].append(w)
    return attrs, trees


def leaf_of(nodes, x):
    i = 0
    while nodes[i]["mode"] != "LEAF":
        nd = nodes[i]
        v = x[nd["feature"]]
        v = float("nan") if v is None else f32(v)
        if math.isnan(v):
            go = bool(nd["track"]) or nd["mode"] == "BRANCH_NEQ"
        else:
            go = cmp(nd["mode"], v, nd["value"])
        i = nd["true"] if go else nd["false"]
    return nodes[i]


def logistic(v):
    return 1 / (1 + math.exp(-v))


def probit(v):
    # onnxruntime's approximation: sqrt(2) * erfinv(2v - 1), erfinv after
    # Winitzki (a = 0.147), in float32 there.
    x = 2 * v - 1
    sgn = -1.0 if x < 0 else 1.0
    x = (1 - x) * (1 + x)
    lg = math.log(x)
    a = 2 / (3.14159 * 0.147) + 0.5 * lg
    b = 1 / 0.147 * lg
    return 1.41421356 * sgn * math.sqrt(-a + math.sqrt(a * a - b))


def transform(post, s):
    if post == "NONE":
        return s
    if post == "LOGISTIC":
        return [logistic(v) for v in s]
    if post == "PROBIT":
        return [probit(v) for v in s]
    if post == "SOFTMAX":
        m = max(s)
        e = [math.exp(v - m) for v in s]
        return [v / sum(e) for v in e]
    if post == "SOFTMAX_ZERO":
        m = max(s)
        e = [math.exp(v - m) if abs(v) > 1e-7 else v * math.exp(-m) for v in s]
        tot = sum(e[i] for i, v in enumerate(s) if abs(v) > 1e-7)
        return [v / tot for v in e]


HAND_ROWS = [[0.0, 0.0], [0.5, 1.0], [1.0, 0.5], [1.5, 2.0], [2.0, 1.5], [0.1, 0.1], [3.0, -1.0],
             [None, 1.0], [1.0, None], [None, None], [0.49999997, 1.0000001], [0.10000000149011612, 2.0]]


def hand_built(out):
    cases = []
    # Regressors: each aggregate function; post_transform NONE and PROBIT
    # (the only transforms onnxruntime applies to one target).
    for seed, agg in enumerate(("SUM", "AVERAGE", "MIN", "MAX")):
        for post, base in (("NONE", [0.25]), ("PROBIT", [])):
            if post == "PROBIT" and agg not in ("MIN", "SUM"):
                continue
            attrs, trees = small_forest(1, seed, negative=True)
            if post == "PROBIT":
                # probit needs (0, 1): scale weights into (0, 0.3].
                attrs["w_weights"] = [f32(0.05 + 0.25 * abs(w)) for w in attrs["w_weights"]]
                for t in trees:
                    for nd in t:
                        nd["w"] = [(k, f32(0.05 + 0.25 * abs(w))) for k, w in nd["w"]]
            file = "hand_reg_%s_%s.onnx" % (agg.lower(), post.lower())
            kw = {"aggregate_function": agg, "post_transform": post}
            if base:
                kw["base_values"] = base
            onnx_model(os.path.join(out, file), "TreeEnsembleRegressor", attrs, 2, ["a", "b"], **kw)
            values = []
            for x in HAND_ROWS:
                ws = [leaf_of(t, x)["w"][0][1] for t in trees]
                s = {"SUM": sum(ws), "AVERAGE": sum(ws) / len(ws), "MIN": min(ws), "MAX": max(ws)}[agg]
                s += base[0] if base else 0
                values.append(probit(s) if post == "PROBIT" else s)
            cases.append({"name": "hand regressor %s %s" % (agg, post), "file": file, "rows": HAND_ROWS,
                          "values": values, "tol": 1e-5})
    # Classifiers with three classes: each post_transform.
    for post in ("NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"):
        attrs, trees = small_forest(3, 7, negative=post != "PROBIT")
        if post in ("SOFTMAX_ZERO",):
            # a class that no leaf votes for keeps its score 0
            keep = [i for i, k in enumerate(attrs["w_ids"]) if k != 2]
            for k in ("w_treeids", "w_nodeids", "w_ids", "w_weights"):
                attrs[k] = [attrs[k][i] for i in keep]
            for t in trees:
                for nd in t:
                    nd["w"] = [(k, w) for k, w in nd["w"] if k != 2]
        if post == "PROBIT":
            attrs["w_weights"] = [f32(w / 4) for w in attrs["w_weights"]]
            for t in trees:
                for nd in t:
                    nd["w"] = [(k, f32(w / 4)) for k, w in nd["w"]]
        base = [0.1, -0.2, 0.0] if post != "PROBIT" else [0.05, 0.1, 0.02]
        file = "hand_cls_%s.onnx" % post.lower()
        labels = ["x", "y", "z"]
        onnx_model(os.path.join(out, file), "TreeEnsembleClassifier", attrs, 2, ["a", "b"], labels=labels,
                   post_transform=post, base_values=base)
        probas, preds = [], []
        for x in HAND_ROWS:
            s = [0.0, 0.0, 0.0]
            for t in trees:
                for k, w in leaf_of(t, x)["w"]:
                    s[k] += w
            s = [v + b for v, b in zip(s, base)]
            pr = transform(post, s)
            probas.append(pr)
            preds.append(labels[int(np.argmax(pr))])
        cases.append({"name": "hand classifier %s" % post, "file": file, "rows": HAND_ROWS,
                      "labels": preds, "proba": probas, "tol": 1e-5})
    # Binary case: two labels, one class id voted for: onnxruntime returns
    # [1-s, s] when all weights are >= 0, [-s, s] (NONE) or
    # [logistic(-s), logistic(s)] (LOGISTIC) otherwise.
    for post, negative in (("NONE", False), ("NONE", True), ("LOGISTIC", True)):
        attrs, trees = small_forest(1, 11, negative=negative)
        if not negative:
            attrs["w_weights"] = [f32(w / 3) for w in attrs["w_weights"]]
            for t in trees:
                for nd in t:
                    nd["w"] = [(k, f32(w / 3)) for k, w in nd["w"]]
        file = "hand_binary_%s_%s.onnx" % (post.lower(), "mixed" if negative else "positive")
        onnx_model(os.path.join(out, file), "TreeEnsembleClassifier", attrs, 2, ["a", "b"], labels=[4, 9],
                   post_transform=post, base_values=[0.0] if negative else [])
        probas, preds = [], []
        for x in HAND_ROWS:
            s = sum(leaf_of(t, x)["w"][0][1] for t in trees)
            if not negative:
                pr = [1 - s, s]
            elif post == "LOGISTIC":
                pr = [logistic(-s), logistic(s)]
            else:
                pr = [-s, s] if s > 0 else [s, -s]
            probas.append(pr)
            preds.append([4, 9][int(np.argmax(pr))])
        cases.append({"name": "hand binary %s %s" % (post, "mixed" if negative else "positive"), "file": file,
                      "rows": HAND_ROWS, "labels": preds, "proba": probas, "tol": 1e-5})
    return cases


def seeds(out):
    """Small models for the tests that need no Python and the fuzz targets'
    seeds (testdata/seeds, regenerated with oracle.py --seeds DIR), with
    malformed ones named bad_*."""
    os.makedirs(out, exist_ok=True)
    hand_built(out)
    rng = np.random.default_rng(1)
    X = rng.random((300, 3))
    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    est = xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    p = os.path.join(out, "xgb_tiny.json")
    est.get_booster().save_model(p)
    with open(p) as f:
        js = json.load(f)

    def bad_json(name, edit):
        j = json.loads(json.dumps(js))
        edit(j)
        with open(os.path.join(out, name), "w") as f:
            json.dump(j, f)
    bad_json("bad_objective.json", lambda j: j["learner"]["objective"].update(name="rank:pairwise"))
    bad_json("bad_child.json", lambda j: j["learner"]["gradient_booster"]["model"]["trees"][1]["left_children"].__setitem__(0, 99))
    bad_json("bad_names.json", lambda j: j["learner"]["feature_names"].append("d"))
    bad_json("bad_arrays.json", lambda j: j["learner"]["gradient_booster"]["model"]["trees"][0]["split_conditions"].pop())

    attrs, _ = small_forest(3, 7)
    labels = ["x", "y", "z"]

    def bad_onnx(name, edit=None, features=("a", "b"), after=None, **kw):
        a = json.loads(json.dumps(attrs))
        if edit:
            edit(a)
        path = os.path.join(out, name)
        onnx_model(path, "TreeEnsembleClassifier", a, 2, list(features), labels=labels, post_transform="NONE", **kw)
        if after:
            m = onnx.load(path)
            after(m)
            with open(path, "wb") as f:
                f.write(m.SerializeToString())
    bad_onnx("bad_arrays.onnx", lambda a: a["nodes_values"].pop())
    bad_onnx("bad_cycle.onnx", lambda a: a["nodes_truenodeids"].__setitem__(1, 0))
    bad_onnx("bad_mode.onnx", lambda a: a["nodes_modes"].__setitem__(0, "BRANCH_MAYBE"))
    bad_onnx("bad_features.onnx", features=("a", "b", "c"))
    bad_onnx("bad_class_id.onnx", lambda a: a["w_ids"].__setitem__(0, 7))

    def normalizer(m):
        g = m.graph
        g.node.append(helper.make_node("Normalizer", ["probabilities"], ["normalized"], domain=ML, norm="L1"))
        g.output[1].name = "normalized"
    bad_onnx("bad_operator.onnx", after=normalizer)


def bench(out):
    """BenchmarkEval's models: on 22 uniform [0, 1) features, a 100-tree
    depth-8 RandomForest (ONNX), the same with one tree (the baseline) and
    a 100-tree depth-8 XGBoost binary:logistic model."""
    rng = np.random.default_rng(8)
    X = rng.random((4000, 22))
    y = ((X[:, 0] + X[:, 1] * X[:, 2] + rng.random(4000) * 0.5) * 2).astype(int)
    names = ["f%d" % i for i in range(22)]
    for n, file in ((100, "rf100.onnx"), (1, "rf1.onnx")):
        rf = RandomForestClassifier(n_estimators=n, max_depth=8, random_state=1).fit(X, y)
        convert_forest(rf, os.path.join(out, file), names)
    est = xgb.XGBClassifier(n_estimators=100, max_depth=8).fit(X, (y > 1).astype(int))
    est.get_booster().save_model(os.path.join(out, "xgb100.json"))


if __name__ == "__main__":
    if sys.argv[1] == "--seeds":
        seeds(sys.argv[2])
    elif sys.argv[1] == "--bench":
        bench(sys.argv[2])
    else:
        main()
