"""FFJORD flows: the MLP state derivative, trace estimators, solvers, the FFJORD stack and
its evaluation (notebook 02). Modules import one way: ode -> traces -> solvers -> ffjord ->
flow_eval."""
