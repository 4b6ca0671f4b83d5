"""A small PyTorch CNN for 16x16 grayscale images (PyTorch estimator training script).

It saves a TorchScript model.pt, so the PyTorch inference container serves it with its default
handlers: a NumPy array of images (N, H, W, 1) in, one row of class scores per image out.
"""

import argparse
import os

import numpy as np
import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classify = nn.Linear(16 * 4 * 4, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().permute(0, 3, 1, 2)  # (N, H, W, 1) -> (N, 1, H, W)
        return self.classify(self.features(x).flatten(1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--classes", type=int, default=4)
    args = parser.parse_args()

    torch.manual_seed(0)
    data = np.load(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "images.npz"))
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    model = SmallCNN(args.classes)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x))
        for batch in order.split(32):
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x).argmax(1) == y).float().mean().item()
        print(f"epoch {epoch}: loss={loss.item():.4f} training_accuracy={accuracy:.3f}")
    torch.jit.script(model).save(os.path.join(os.environ["SM_MODEL_DIR"], "model.pt"))
