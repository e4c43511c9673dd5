"""Penalties on the coefficients: L2 (ridge), L1 (lasso) and both (elastic net).

The penalised objective is

.. math::

    J(W, b) = \\frac{1}{m}\\sum_i s_i\\,\\ell(y_i, z_i)
              + \\frac{\\lambda_2}{2m}\\lVert W\\rVert_2^2
              + \\frac{\\lambda_1}{m}\\lVert W\\rVert_1 ,

with m = Σ sᵢ (the number of samples when there are no weights).  The
intercept b is never penalised.  The L2 term is smooth and enters the gradient;
the L1 term is handled by its proximal operator (soft-thresholding), which is
what produces exact zeros.

Mapping to scikit-learn (proved in ``tests/test_penalties_vs_sklearn.py``):

=============================================  ==================================
scikit-learn                                   gdlearn
=============================================  ==================================
``Ridge(alpha=a)``                             ``l2=a``
``Lasso(alpha=a)``                             ``l1=a * m``
``ElasticNet(alpha=a, l1_ratio=r)``            ``l1=a * r * m``, ``l2=a * (1 - r) * m``
``LogisticRegression(C=c)`` (L2)               ``l2=1 / c``
``LogisticRegression(C=c, l1_ratio=1)`` (L1)   ``l1=1 / c``
=============================================  ==================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Penalty", "soft_threshold"]


def soft_threshold(x: np.ndarray, threshold: np.ndarray | float) -> np.ndarray:
    """Proximal operator of t·‖x‖₁: sign(x) · max(|x| − t, 0), elementwise."""
    return np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0)


@dataclass(frozen=True)
class Penalty:
    """Elastic-net penalty P(W) = λ₂/2 ‖W‖² + λ₁ ‖W‖₁ (before division by m).

    Parameters
    ----------
    l2 : float, default=0.0
        λ₂ ≥ 0.
    l1 : float, default=0.0
        λ₁ ≥ 0.

    Notes
    -----
    ``weights`` arguments rescale the L1 term coordinate by coordinate; they
    are used when the solver works in standardised coordinates W_s = σ ⊙ W, where
    ‖W‖₁ = Σ_j |W_s,j| / σ_j.
    """

    l2: float = 0.0
    l1: float = 0.0

    @property
    def has_l1(self) -> bool:
        return self.l1 > 0.0

    def smooth_value(self, W: np.ndarray) -> float:
        """λ₂/2 ‖W‖² for W of shape (n_features, n_outputs)."""
        return 0.5 * self.l2 * float(np.vdot(W, W))

    def smooth_grad(self, W: np.ndarray) -> np.ndarray:
        """Gradient λ₂ W of the smooth part."""
        return self.l2 * W

    def l1_value(self, W: np.ndarray) -> float:
        """λ₁ ‖W‖₁ (always in the user's coordinates: the objective maps θ back first)."""
        return self.l1 * float(np.sum(np.abs(W)))

    def prox(self, W: np.ndarray, step: np.ndarray | float, weights: np.ndarray | float = 1.0) -> np.ndarray:
        """Proximal step of the L1 part: soft-threshold W at step · λ₁ · weights."""
        if self.l1 == 0.0:
            return W
        return soft_threshold(W, step * self.l1 * weights)

    def l1_residual(self, W: np.ndarray, G: np.ndarray, weights: np.ndarray | float = 1.0) -> np.ndarray:
        """Smallest element of G + ∂(λ₁ Σ weights|W|): zero exactly at an optimum.

        Where W_j ≠ 0 it is G_j + λ₁ weights_j sign(W_j); where W_j = 0 it is
        the part of |G_j| that exceeds λ₁ weights_j (zero when the subgradient
        condition holds).
        """
        if self.l1 == 0.0:
            return G
        t = np.broadcast_to(self.l1 * weights, W.shape)
        return np.where(W != 0.0, G + t * np.sign(W), np.sign(G) * np.maximum(np.abs(G) - t, 0.0))
