"""float64 NumPy references for every kernel: the oracles the tests compare dlc against.

Each function takes float32 or float64 arrays and computes in float64, written for clarity
rather than speed, straight from the definitions (not from dlc's code).
"""
import numpy as np

# ==== BEGIN gemm references ====
# ==== END gemm references ====

# ==== BEGIN conv2d references ====
# ==== END conv2d references ====

# ==== BEGIN pool2d references ====
# ==== END pool2d references ====

# ==== BEGIN batchnorm references ====
# ==== END batchnorm references ====

# ==== BEGIN activations references ====
# ==== END activations references ====

# ==== BEGIN softmax_xent references ====
# ==== END softmax_xent references ====

# ==== BEGIN dropout references ====
# ==== END dropout references ====

# ==== BEGIN optim references ====
# ==== END optim references ====
