"""The mathematics of the chapters: flows, their integrators and the rates and noise around them.

* :mod:`~course_lib.dynamics.ode` — gradient flow, Euler, RK4 (chapter 1);
* :mod:`~course_lib.dynamics.sde` — Euler–Maruyama, Langevin temperature, Gibbs densities (chapter 2);
* :mod:`~course_lib.dynamics.ou` — Ornstein–Uhlenbeck: Lyapunov equation, stationary covariance (chapter 2);
* :mod:`~course_lib.dynamics.gradient_noise` — per-example gradients and the noise of a minibatch (chapter 2);
* :mod:`~course_lib.dynamics.spectrum` — top Hessian eigenpairs, effective rank (chapter 2);
* :mod:`~course_lib.dynamics.momentum` — the heavy ball as a damped oscillator and the look-ahead
  family (heavy ball, Nesterov, midpoint) batched (chapters 3 and 4);
* :mod:`~course_lib.dynamics.quadratic_rates` — exact rates of momentum methods on a quadratic (chapters 3, 4).

These modules import nothing from the rest of ``course_lib`` except the argument checks.
"""
