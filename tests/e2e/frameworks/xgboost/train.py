"""XGBoost script mode as written for AWS's sagemaker-xgboost image: the image's data utilities load
the channel, model_fn serves the booster."""
import argparse
import os

import xgboost as xgb
from sagemaker_xgboost_container.data_utils import get_dmatrix


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_round", type=int, default=10)
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    args = parser.parse_args()
    train = get_dmatrix(args.train, "csv")
    booster = xgb.train({"objective": "reg:squarederror", "max_depth": 3}, train, num_boost_round=args.num_round,
                        evals=[(train, "train")])
    booster.save_model(os.path.join(args.model_dir, "xgboost-model"))
