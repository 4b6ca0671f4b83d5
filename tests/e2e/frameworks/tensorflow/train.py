"""TensorFlow script mode: fit y = 2x + 1 with Keras and save a SavedModel version under SM_MODEL_DIR
(the layout TensorFlow Serving, and so the inference image, expects: <model_dir>/1/)."""
import argparse
import os

import numpy as np
import tensorflow as tf

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--model_dir")  # the SDK passes an S3 URI here; the model goes to SM_MODEL_DIR
    args, _ = parser.parse_known_args()
    tf.random.set_seed(0)
    x = np.linspace(-1, 1, 64).reshape(-1, 1).astype("float32")
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer=tf.keras.optimizers.SGD(0.3), loss="mse")
    history = model.fit(x, 2 * x + 1, epochs=args.epochs, verbose=0)
    print(f"final loss={history.history['loss'][-1]:.6f}")
    model.save(os.path.join(os.environ["SM_MODEL_DIR"], "1"))
