"""The machine under the algorithm: CPU kernel forms, allocator and MKL tuning, torchrun setup,
crash-safe files and checkpoints, and the description of the system a run was made on.

Nothing here changes what the method computes; the modules outside `runtime/` are the method and
read as it.
"""
