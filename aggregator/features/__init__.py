"""Features: the tokens the models read (tokens.py, no NumPy), their hashed word 1-2-grams
(hashing.py) and the linear models stored over them (linear.py)."""
