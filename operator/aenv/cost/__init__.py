"""What an environment costs a month: a price table (prices.yaml) and a pure estimator over the effective spec."""
