"""Support package for the relunet notebook suite.

Two-layer ReLU networks on 1-D data,

    f_m(x; θ) = (1/α_m) Σ_j a_j (w_j x + b_j)_+ ,

trained by full-batch gradient descent on R(θ) = 1/(2n) Σ_i (f_m(x_i) − y_i)².
Data flows one way: config → initial state → engine → run store → analysis.
"""

__version__ = "0.1.0"
