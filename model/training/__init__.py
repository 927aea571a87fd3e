"""Training data, training and evaluation of DSLNet."""
