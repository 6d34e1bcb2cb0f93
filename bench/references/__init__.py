# Reference implementations for bench/references.py, one module per kernel group.
