"""``sagemaker_xgboost_container.constants``: the content-type names XGBoost scripts import."""
