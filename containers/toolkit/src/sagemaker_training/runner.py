"""``sagemaker_training.runner``: runner type names framework code passes to entry_point.run. smlocal
runs one process per container; the distributed runners (MPI, smdistributed, torchrun) are not provided."""

ProcessRunnerType = "process"
MPIRunnerType = "mpi"
SMDataParallelRunnerType = "smdataparallel"
TorchDistributedRunnerType = "torch_distributed"
PyTorchXLARunnerType = "pytorch_xla"
