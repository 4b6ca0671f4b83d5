"""The same small CNN in TensorFlow/Keras (TensorFlow estimator training script).

It saves a SavedModel under SM_MODEL_DIR/1, the layout TensorFlow Serving expects: the endpoint
answers {"instances": images (N, H, W, 1)} with {"predictions": one row of class scores per image}.
"""

import argparse
import os

import numpy as np
import tensorflow as tf

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--model_dir")  # the SDK passes an S3 URI; the model goes to SM_MODEL_DIR
    args, _ = parser.parse_known_args()

    tf.random.set_seed(0)
    data = np.load(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "images.npz"))
    x, y = data["x"], data["y"]
    model = tf.keras.Sequential([
        tf.keras.Input(shape=x.shape[1:]),
        tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu"), tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu"), tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(), tf.keras.layers.Dense(args.classes)])
    model.compile(optimizer=tf.keras.optimizers.Adam(args.lr),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, epochs=args.epochs, batch_size=32, verbose=2)
    print(f"final training_accuracy={history.history['accuracy'][-1]:.3f}")
    model.save(os.path.join(os.environ["SM_MODEL_DIR"], "1"))
