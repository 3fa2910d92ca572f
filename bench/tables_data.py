"""The mixed table of the table benchmarks (bench/tables_speed.py,
bench/tables_train_speed.py): 20 numeric columns with 2 % missing cells, 5
text columns of 3-20 categories with 1 % missing, a yes/no target."""

import numpy as np
import pandas as pd


def mixed_table(rows, g):
    """The table, drawn from the generator `g` (which goes on from there)."""
    df = pd.DataFrame({f"x{i}": g.normal(size=rows).round(6) for i in range(20)})
    for i in range(20):
        df.loc[g.random(rows) < 0.02, f"x{i}"] = np.nan
    for i, k in enumerate([3, 5, 8, 12, 20]):
        col = pd.Series(np.array([f"cat{i}_{j}" for j in range(k)])[g.integers(0, k, rows)], dtype=object)
        col[g.random(rows) < 0.01] = None
        df[f"t{i}"] = col
    df["y"] = np.where(df["x0"].fillna(0) + g.normal(size=rows) > 0, "yes", "no")
    return df
