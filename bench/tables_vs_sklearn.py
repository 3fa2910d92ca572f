"""downhill train (defaults) vs scikit-learn's MLP on public tables, same held-out test rows.

    cargo build --release -p downhill-cli && /work/venv/bin/python bench/tables_vs_sklearn.py

Each table is split once (stratified for classification, 20% test, seed 0) into train.csv and
test.csv. downhill trains on train.csv with its defaults (it holds out its own validation and test
rows from it: --val-split 0.1 --test-split 0.1) and is scored with `downhill evaluate` on test.csv.
scikit-learn fits MLPClassifier/MLPRegressor (128 hidden units, its defaults otherwise) on all of
train.csv after median imputation with missing indicators and standardization (numbers) and
one-hot encoding with a "missing" category (text, at most 32 categories), and is scored on
test.csv. Tables come from installed packages only (palmerpenguins, scikit-learn); nothing is
downloaded.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pandas as pd
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

root = pathlib.Path(__file__).resolve().parents[1]
binary = pathlib.Path(os.environ.get("DOWNHILL_BIN_DIR", root / "target/release")) / "downhill"
pp = pathlib.Path(__import__("palmerpenguins").__file__).parent / "data"


def tables():
    yield "penguins", pd.read_csv(root / "data/penguins.csv"), "species", "classification"
    yield "penguins-raw", pd.read_csv(pp / "penguins-raw.csv"), "Species", "classification"
    b = datasets.load_breast_cancer(as_frame=True).frame
    yield "breast_cancer", b, "target", "classification"
    w = datasets.load_wine(as_frame=True).frame
    yield "wine", w, "target", "classification"
    d = datasets.load_diabetes(as_frame=True, scaled=False).frame
    yield "diabetes", d, "target", "regression"


def sklearn_score(train, test, target, task):
    x, y = train.drop(columns=[target]), train[target]
    text = [c for c in x.columns if x[c].dtype == object or str(x[c].dtype).startswith("str")]
    nums = [c for c in x.columns if c not in text]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="<missing>"),
                              OneHotEncoder(handle_unknown="ignore", max_categories=32)), text),
    ])
    if task == "classification":
        model = MLPClassifier(hidden_layer_sizes=(128,), max_iter=500, random_state=0)
    else:
        from sklearn.compose import TransformedTargetRegressor
        model = TransformedTargetRegressor(MLPRegressor(hidden_layer_sizes=(128,), max_iter=2000, random_state=0),
                                           transformer=StandardScaler())
    p = make_pipeline(pre, model).fit(x, y)
    pred = p.predict(test.drop(columns=[target]))
    return accuracy_score(test[target], pred) if task == "classification" else r2_score(test[target], pred)


def downhill_score(tmp, train, test, target, task):
    train.to_csv(tmp / "train.csv", index=False)
    test.to_csv(tmp / "test.csv", index=False)
    run = tmp / "run"
    subprocess.run([binary, "train", "--data", tmp / "train.csv", "--target", target, "--quiet",
                    "--val-split", "0.1", "--test-split", "0.1", "--out", run], check=True)
    out = subprocess.run([binary, "evaluate", "--model", run, "--data", tmp / "test.csv"],
                         check=True, capture_output=True, text=True).stdout
    m = json.loads(out)
    return m["accuracy"] if task == "classification" else m["r2"]


def main():
    print("| table | rows | columns | task | downhill test | scikit-learn test |")
    print("|---|---|---|---|---|---|")
    for name, df, target, task in tables():
        df = df[df[target].notna()].reset_index(drop=True)
        strat = df[target] if task == "classification" else None
        train, test = train_test_split(df, test_size=0.2, stratify=strat, random_state=0)
        with tempfile.TemporaryDirectory() as t:
            d = downhill_score(pathlib.Path(t), train, test, target, task)
        s = sklearn_score(train, test, target, task)
        metric = "accuracy" if task == "classification" else "R²"
        print(f"| {name} | {len(df)} | {df.shape[1] - 1} | {task} | {metric} {d:.4f} | {metric} {s:.4f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
