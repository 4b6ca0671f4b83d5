"""Feature engineering for daily sales: lags, rolling means and calendar features per store.

Reads every CSV under /opt/ml/processing/input (columns date, store, sales) and writes, as the
built-in XGBoost algorithm wants them (target first, no header):
  /opt/ml/processing/train/train.csv            training rows
  /opt/ml/processing/validation/validation.csv  the weeks before the test period
  /opt/ml/processing/test/features.csv          the last days per store, features only (for the endpoint)
  /opt/ml/processing/test/actuals.csv           date, store, sales for those days
"""

import argparse
import glob
import os

import pandas as pd

BASE = "/opt/ml/processing"
LAGS = (1, 2, 3, 7, 14)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (store, day) with only past information in the feature columns."""
    frame = frame.sort_values(["store", "date"]).copy()
    by_store = frame.groupby("store")["sales"]
    for lag in LAGS:
        frame[f"lag_{lag}"] = by_store.shift(lag)
    frame["mean_7"] = by_store.transform(lambda s: s.shift(1).rolling(7).mean())
    frame["mean_28"] = by_store.transform(lambda s: s.shift(1).rolling(28).mean())
    frame["day_of_week"] = frame["date"].dt.day_of_week
    frame["month"] = frame["date"].dt.month
    frame["store_id"] = frame["store"].astype("category").cat.codes
    return frame.dropna()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test-days", type=int, default=14)
    parser.add_argument("--validation-days", type=int, default=28)
    args = parser.parse_args()

    paths = sorted(glob.glob(f"{BASE}/input/**/*.csv", recursive=True))
    raw = pd.concat([pd.read_csv(p, parse_dates=["date"]) for p in paths], ignore_index=True)
    print(f"read {len(raw)} rows from {len(paths)} file(s): {raw['store'].nunique()} stores, "
          f"{raw['date'].min().date()} .. {raw['date'].max().date()}")

    table = features(raw)
    columns = ["sales", *[f"lag_{lag}" for lag in LAGS], "mean_7", "mean_28", "day_of_week", "month", "store_id"]
    last_day = table["date"].max()
    test_start = last_day - pd.Timedelta(days=args.test_days - 1)
    validation_start = test_start - pd.Timedelta(days=args.validation_days)
    train = table[table["date"] < validation_start]
    validation = table[(table["date"] >= validation_start) & (table["date"] < test_start)]
    test = table[table["date"] >= test_start]

    for name in ("train", "validation", "test"):
        os.makedirs(f"{BASE}/{name}", exist_ok=True)
    train[columns].to_csv(f"{BASE}/train/train.csv", header=False, index=False)
    validation[columns].to_csv(f"{BASE}/validation/validation.csv", header=False, index=False)
    test[columns[1:]].to_csv(f"{BASE}/test/features.csv", header=False, index=False)
    test[["date", "store", "sales"]].to_csv(f"{BASE}/test/actuals.csv", index=False)
    print(f"features: {', '.join(columns[1:])}")
    print(f"wrote {len(train)} training, {len(validation)} validation and {len(test)} test rows "
          f"(test period {test_start.date()} .. {last_day.date()})")


if __name__ == "__main__":
    main()
