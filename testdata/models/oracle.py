#!/usr/bin/python3
"""Python oracle of the model tests (cmd/nfstream/model_test.go, docs/models.md
section 6): trains models with scikit-learn and XGBoost on nfstream's own CSV,
and checks nfstream's udps predictions against Python's predict and
predict_proba on the rows of another run.

    oracle.py train DIR CSV...              train every model into DIR
    oracle.py check DIR NAME[:COL],... CSV...
                                            compare the columns udps.COL_prediction and
                                            udps.COL_probability (COL defaults to NAME) of the
                                            CSVs with Python's predictions of each model NAME
    oracle.py early DIR NAME COL K CSV SLICED [CSV SLICED...]
                                            compare the early verdicts of each CSV (--model-at
                                            COL=K) with Python's prediction on the rows of SLICED
                                            (the same capture with --plugin flow_slicer:limit=K):
                                            a flow's first slice is the flow at K packets
    oracle.py forest FILE TREES DEPTH       write an XGBoost model of TREES trees of depth DEPTH
                                            on FEATURES (random rows), for benchmarks

Each command prints one JSON object on standard output.
"""
import json
import os
import pickle
import sys

import numpy as np
import pandas as pd

SPLT = 10
LISTS = ("splt_direction", "splt_ps", "splt_piat_ms")
FEATURES = [
    "bidirectional_packets", "bidirectional_bytes", "src2dst_packets", "src2dst_bytes",
    "dst2src_packets", "dst2src_bytes", "src_port", "dst_port", "protocol", "ip_version",
    "bidirectional_min_ps", "bidirectional_mean_ps", "bidirectional_stddev_ps", "bidirectional_max_ps",
    "src2dst_mean_ps", "dst2src_max_ps", "bidirectional_mean_piat_ms", "src2dst_stddev_piat_ms",
    "dst2src_min_piat_ms", "bidirectional_syn_packets", "bidirectional_ack_packets",
    "src2dst_psh_packets", "dst2src_rst_packets",
] + ["%s_%d" % (l, i) for l in LISTS for i in range(SPLT)]
# The deployment example of NFStream's documentation: two features.
SEED_FEATURES = ["bidirectional_packets", "bidirectional_bytes"]
CATEGORIES = ["Web", "Network", "VoIP", "Unspecified"]


def read(paths):
    frames = [pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in paths]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for l in LISTS:
        if l in df.columns:
            vals = df[l].map(json.loads)
            for i in range(SPLT):
                df["%s_%d" % (l, i)] = vals.map(lambda v: v[i])
    return df


def category(df):
    return df["application_category_name"].map(lambda c: CATEGORIES.index(c) if c in CATEGORIES else len(CATEGORIES))


def train(out, paths):
    import xgboost
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeRegressor

    df = read(paths)
    X = df[FEATURES].astype(np.float64)
    models = {
        # name: (estimator, features, target, needs names in the file)
        "xgb_binary": (xgboost.XGBClassifier(n_estimators=40, max_depth=5, learning_rate=0.3),
                       FEATURES, (df["application_category_name"] == "Web").astype(int)),
        "xgb_multi": (xgboost.XGBClassifier(n_estimators=25, max_depth=4, objective="multi:softprob"),
                      FEATURES, category(df)),
        "xgb_reg": (xgboost.XGBRegressor(n_estimators=30, max_depth=6),
                    FEATURES, df["bidirectional_duration_ms"].astype(np.float64)),
        "seed": (xgboost.XGBClassifier(n_estimators=20, max_depth=4),
                 SEED_FEATURES, df["application_name"].map(lambda a: 1 if "Google" in a or a.startswith("TLS") else 0)),
        "rf": (RandomForestClassifier(n_estimators=20, max_depth=8, random_state=1),
               FEATURES, df["application_category_name"].map(lambda c: c if c in CATEGORIES else "Other")),
        "gb": (GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=1),
               FEATURES, (df["application_category_name"] == "Web").astype(int)),
        "dtreg": (DecisionTreeRegressor(max_depth=10, random_state=1),
                  FEATURES, df["bidirectional_duration_ms"].astype(np.float64)),
    }
    info = {"rows": len(df)}
    for name, (est, feats, y) in models.items():
        x = df[feats].astype(np.float64)
        if name == "seed":
            est.fit(x.values, y)  # no names in the file: --model-features gives them
        else:
            est.fit(x, y)
        path = None
        if name.startswith("xgb") or name == "seed":
            path = os.path.join(out, name + ".json")
            est.save_model(path)
        else:
            path = to_onnx(name, est, x, out)
        with open(os.path.join(out, name + ".pkl"), "wb") as f:
            pickle.dump({"est": est, "features": feats, "names": name != "seed"}, f)
        info[name] = {"file": path, "classes": len(set(y)) if hasattr(est, "predict_proba") else 0}
    json.dump(info, sys.stdout)


def to_onnx(name, est, x, out):
    """Converts a fitted scikit-learn model to ONNX-ML with the converter of
    internal/model's tests (onnx.helper from the fitted trees); None when
    python3-onnx or the converter is missing."""
    try:
        import importlib.util
        here = os.path.dirname(os.path.abspath(__file__))
        spec = importlib.util.spec_from_file_location(
            "model_oracle", os.path.join(here, "..", "..", "internal", "model", "testdata", "oracle.py"))
        conv = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(conv)
    except (ImportError, OSError) as e:
        print("no ONNX converter: %s" % e, file=sys.stderr)
        return None
    path = os.path.join(out, name + ".onnx")
    feats = list(x.columns)
    if name == "rf":
        conv.convert_forest(est, path, feats, zipmap=True)
    elif name == "gb":
        conv.convert_gb(est, x.values, path, feats)
    else:
        conv.convert_regressor(est, path, feats, "SUM")
    return path


def forest(path, trees, depth):
    """Writes an XGBoost classifier of the given size on FEATURES, trained on
    random rows with a label no shallow tree fits, for benchmarks."""
    import xgboost
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.integers(0, 1500, size=(5000, len(FEATURES))).astype(np.float64), columns=FEATURES)
    y = ((x.iloc[:, 0] * 7 + x.iloc[:, 11] * 3 + x.iloc[:, 25]) % 5 < 2).astype(int)
    est = xgboost.XGBClassifier(n_estimators=trees, max_depth=depth, learning_rate=0.1)
    est.fit(x, y)
    est.save_model(path)
    json.dump({"trees": trees, "depth": depth}, sys.stdout)


def oracle(d, name):
    with open(os.path.join(d, name + ".pkl"), "rb") as f:
        return pickle.load(f)


def predictions(m, df):
    x = df[m["features"]].astype(np.float64)
    if not m["names"]:
        x = x.values
    est = m["est"]
    pred = est.predict(x)
    prob = est.predict_proba(x).max(axis=1) if hasattr(est, "predict_proba") else None
    return pred, prob


def same(ours, want, tol=1e-6):
    if isinstance(want, (float, np.floating)):
        return abs(float(ours) - float(want)) <= tol * max(1.0, abs(float(want)))
    if isinstance(want, (np.integer, int)):
        return not isinstance(ours, str) and float(ours) == float(want) and float(ours).is_integer()
    return str(ours) == str(want)


def compare(ours_pred, ours_prob, pred, prob):
    bad = []
    for i in range(len(pred)):
        ok = same(ours_pred[i], pred[i])
        if prob is not None:
            ok = ok and same(ours_prob[i], prob[i])
        if not ok:
            bad.append({"row": i, "ours": [str(ours_pred[i]), None if ours_prob is None else float(ours_prob[i])],
                        "python": [str(pred[i]), None if prob is None else float(prob[i])]})
    return bad


def check(d, names, paths):
    df = read(paths)
    out = {"rows": len(df)}
    for spec in names.split(","):
        name, _, col = spec.partition(":")
        col = col or name
        m = oracle(d, name)
        pred, prob = predictions(m, df)
        ours_prob = df["udps.%s_probability" % col].tolist() if prob is not None else None
        bad = compare(df["udps.%s_prediction" % col].tolist(), ours_prob, pred, prob)
        out[spec] = {"bad": bad[:10], "nbad": len(bad), "labels": sorted({str(p) for p in pred}) if prob is not None else []}
    json.dump(out, sys.stdout)


KEY = ["src_ip", "src_port", "dst_ip", "dst_port", "protocol", "vlan_id", "bidirectional_first_seen_ms"]


def early(d, name, col, k, pairs):
    m = oracle(d, name)
    matched, longer, total, bad = 0, 0, 0, []
    for path, sliced in pairs:
        full, cut = read([path]), read([sliced])
        total += len(full)
        keys = [tuple(r) for r in full[KEY].itertuples(index=False)]
        dup = {kk for kk in keys if keys.count(kk) > 1}
        first = {}
        for i, r in enumerate(cut[KEY].itertuples(index=False)):
            first.setdefault(tuple(r), i)
        rows = []
        for i, kk in enumerate(keys):
            if kk in dup or kk not in first:
                continue
            j = first[kk]
            n = int(full["bidirectional_packets"][i])
            want = min(n, k)
            got = [int(full["udps.%s_prediction_packets" % col][i]), int(cut["bidirectional_packets"][j])]
            if got != [want, want]:
                bad.append({"file": path, "row": i, "prediction_packets, sliced packets": got, "want": want})
                continue
            longer += n > k
            rows.append((i, j))
        if not rows:
            continue
        matched += len(rows)
        pred, prob = predictions(m, cut.iloc[[j for _, j in rows]].reset_index(drop=True))
        ours = full.iloc[[i for i, _ in rows]].reset_index(drop=True)
        ours_prob = ours["udps.%s_probability" % col].tolist() if prob is not None else None
        for b in compare(ours["udps.%s_prediction" % col].tolist(), ours_prob, pred, prob):
            b["file"] = path
            bad.append(b)
    json.dump({"rows": total, "matched": matched, "longer": longer, "bad": bad[:10], "nbad": len(bad)}, sys.stdout)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "train":
        train(args[0], args[1:])
    elif cmd == "forest":
        forest(args[0], int(args[1]), int(args[2]))
    elif cmd == "check":
        check(args[0], args[1], args[2:])
    elif cmd == "early":
        early(args[0], args[1], args[2], int(args[3]), list(zip(args[4::2], args[5::2])))
    else:
        sys.exit("unknown command " + cmd)
