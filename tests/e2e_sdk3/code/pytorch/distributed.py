"""Launched by SDK 3's Torchrun driver on every host: join the process group (gloo on CPU) and
all-reduce the ranks, so every process sees the whole world."""
import os

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
total = torch.tensor([float(rank)])
dist.all_reduce(total)
print(f"rank {rank} of {world} on {os.environ['SM_CURRENT_HOST']}: sum of ranks={int(total.item())}", flush=True)
if rank == 0:
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "world.txt"), "w") as out:
        out.write(f"{world} {int(total.item())}")
dist.destroy_process_group()
