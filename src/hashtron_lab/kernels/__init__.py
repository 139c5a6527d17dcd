"""numba kernels: plain arrays in, plain arrays out; nothing here imports the API layer."""
