"""PyTorchModel entry point: the default model_fn loads the TorchScript model.pt; this predict_fn
adds the model's input next to its output, so the test sees user code ran."""
import torch


def predict_fn(data, model):
    with torch.no_grad():
        return torch.cat([data, model(data)], dim=1)
