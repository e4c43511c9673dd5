"""The tutorial's own functions, in the tutorial's own notation.

"Learning Through Gradient Descent" (Demystifying Deep Learning, Part 3)
writes the data with **one column per example**:

=========  ==================  ====================================
symbol     shape               meaning
=========  ==================  ====================================
X          (n, m)              n features × m examples
Y          (1, m)              targets, a row vector
W          (1, n)              weights, a row vector
b          scalar              bias
Y_pred     (1, m)              predictions Ŷ = WX + b (or σ(WX + b))
=========  ==================  ====================================

The rest of gdlearn uses the scientific-Python convention, X of shape
(n_samples, n_features); the two agree after a transpose, which
``tests/test_tutorial.py`` checks number for number.  These functions are
written for reading, not for speed or for extreme inputs: :mod:`gdlearn.losses`
computes the same losses from the raw score without ever taking log(0).
"""

from __future__ import annotations

import numpy as np

__all__ = ["sigmoid", "linear_forward", "logistic_forward", "mse_loss", "log_loss", "grads", "train"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^(−z)); its derivative is σ(z)(1 − σ(z))."""
    return 1.0 / (1.0 + np.exp(-z))


def linear_forward(X: np.ndarray, W: np.ndarray, b: float) -> np.ndarray:
    """Ŷ = WX + b, shape (1, m)."""
    return np.dot(W, X) + b


def logistic_forward(X: np.ndarray, W: np.ndarray, b: float) -> np.ndarray:
    """Ŷ = σ(WX + b), shape (1, m)."""
    return sigmoid(np.dot(W, X) + b)


def mse_loss(Y: np.ndarray, Y_pred: np.ndarray) -> float:
    """J = 1/(2m) Σ (Ŷ − Y)²  (the ½ makes the gradient exactly Ŷ − Y)."""
    m = Y.shape[1]
    return float(1.0 / (2 * m) * np.sum(np.square(Y_pred - Y)))


def log_loss(Y: np.ndarray, Y_pred: np.ndarray) -> float:
    """J = −1/m Σ [Y log Ŷ + (1 − Y) log(1 − Ŷ)]."""
    m = Y.shape[1]
    return float(-1.0 / m * np.sum(Y * np.log(Y_pred) + (1 - Y) * np.log(1 - Y_pred)))


def grads(X: np.ndarray, Y: np.ndarray, Y_pred: np.ndarray) -> tuple[np.ndarray, float]:
    """The shared gradient: dW = (1/m)(Ŷ − Y)Xᵀ, db = (1/m)Σ(Ŷ − Y).

    Parameters
    ----------
    X : ndarray of shape (n, m)
    Y, Y_pred : ndarray of shape (1, m)

    Returns
    -------
    dW : ndarray of shape (1, n)
    db : float
    """
    m = X.shape[1]
    dZ = Y_pred - Y
    dW = 1.0 / m * np.dot(dZ, X.T)
    db = float(1.0 / m * np.sum(dZ))
    return dW, db


def train(
    X: np.ndarray,
    Y: np.ndarray,
    model: str = "linear",
    learning_rate: float = 0.01,
    num_iterations: int = 1000,
) -> tuple[np.ndarray, float, list[float]]:
    """Plain gradient descent: W ← W − α dW, b ← b − α db, from W = 0, b = 0.

    Parameters
    ----------
    X : ndarray of shape (n, m)
    Y : ndarray of shape (1, m)
    model : {"linear", "logistic"}
    learning_rate : float
        α.
    num_iterations : int

    Returns
    -------
    W : ndarray of shape (1, n)
    b : float
    losses : list of float
        The loss before each update and after the last (num_iterations + 1 values).
    """
    forward, loss = (linear_forward, mse_loss) if model == "linear" else (logistic_forward, log_loss)
    W = np.zeros((1, X.shape[0]))
    b = 0.0
    losses = []
    for _ in range(num_iterations):
        Y_pred = forward(X, W, b)
        losses.append(loss(Y, Y_pred))
        dW, db = grads(X, Y, Y_pred)
        W = W - learning_rate * dW
        b = b - learning_rate * db
    losses.append(loss(Y, forward(X, W, b)))
    return W, b, losses
