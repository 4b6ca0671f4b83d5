"""``sagemaker_xgboost_container.constants.xgb_content_types``: the media types AWS's XGBoost container
names besides the generic ones (``sagemaker_containers._content_types``)."""

LIBSVM = "text/libsvm"
X_LIBSVM = "text/x-libsvm"
X_PARQUET = "application/x-parquet"
X_RECORDIO_PROTOBUF = "application/x-recordio-protobuf"
