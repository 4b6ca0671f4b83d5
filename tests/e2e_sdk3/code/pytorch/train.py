"""PyTorch under SDK 3: fit y = 2x + 1 and save TorchScript model.pt (the serving toolkit's default
model_fn loads it)."""
import argparse
import os

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=200)
parser.add_argument("--lr", type=float, default=0.1)
args = parser.parse_args()
torch.manual_seed(0)
x = torch.linspace(-1, 1, 64).unsqueeze(1)
y = 2 * x + 1
model = torch.nn.Linear(1, 1)
optimiser = torch.optim.SGD(model.parameters(), lr=args.lr)
for _epoch in range(args.epochs):
    optimiser.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimiser.step()
print(f"final loss={loss.item():.6f} after {args.epochs} epochs", flush=True)
torch.jit.script(model).save(os.path.join(os.environ["SM_MODEL_DIR"], "model.pt"))
