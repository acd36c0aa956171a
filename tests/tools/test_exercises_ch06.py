"""Chapter 6's exercises: the notebook's solutions pass every group, and the classic slips get their hint."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.exercises import check, spec
from course_lib.exercises.ch06 import ADADELTA_6_3, RMSPROP_6_2, adadelta_first_step, rmsprop_first_step
from course_lib.exercises.registry import questions
from course_tools.build import notebooks as nbx
from course_tools.grader import submission as sub

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "exercises" / "solutions" / "06_adam_family.ipynb"
EDGE_FAMILIES = {
    "a single parameter: grads of shape (T,), θ a scalar", "float32 gradients: return float32",
    "two parameter dimensions", "zero steps (T = 0): just θ_0 = 0", "numpy scalars for lr, beta1, beta2 and eps",
    "tiny gradients (scale 1e-6), where ε matters", "huge gradients (scale 1e3): Adam's step does not grow with them",
}


@pytest.fixture(scope="module")
def solution():
    """The answers of the solution notebook, run as the student's notebook would run them."""
    namespace: dict = {}
    exec("import torch", namespace)  # noqa: S102 - the course's own solution cells
    for ex in nbx.exercises(nbx.read(SOLUTIONS)):
        for cell in ex.answers:
            if cell.cell_type == "code":
                exec(cell.source, namespace)  # noqa: S102
    return namespace


def _adam(bias_m=True, bias_v=True, eps_inside=False, first_from_grads=False):
    """Adam's trajectory, optionally with one of the classic slips."""
    def adam_trajectory(grads, lr, beta1, beta2, eps):
        theta = torch.zeros_like(grads[0]) if first_from_grads else grads.new_zeros(grads.shape[1:])
        m, v, trajectory = torch.zeros_like(theta), torch.zeros_like(theta), [theta]
        for t, g in enumerate(grads, start=1):
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            m_hat = m / (1 - beta1**t) if bias_m else m
            v_hat = v / (1 - beta2**t) if bias_v else v
            denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
            theta = theta - lr * m_hat / denom
            trajectory.append(theta)
        return torch.stack(trajectory)

    return adam_trajectory


@pytest.mark.parametrize("hidden", [False, True, "edge"])
def test_the_notebook_solutions_pass_every_group(solution, hidden):
    assert check("6.1", solution["adam_trajectory"], hidden=hidden, quiet=True).passed
    assert check("6.2", solution["theta_1"], hidden=hidden, quiet=True).passed
    assert check("6.3", solution["step_size"], hidden=hidden, quiet=True).passed
    assert check("6.4", quiet=True).status == "manual"


def test_the_self_check_runs_every_family_the_grader_runs_and_all_edge_families():
    q = questions()["6.1"]
    self_check = {c.family for c in q.make_cases(spec.Rng(1), False)}
    for group in q.groups:
        assert {c.family for c in q.make_cases(spec.Rng(2), group)} <= self_check
    assert EDGE_FAMILIES == {c.family for c in q.make_cases(spec.Rng(3), "edge")}


def test_adam_cases_are_plain_data():
    for case in questions()["6.1"].make_cases(spec.Rng(4), False):
        assert all(type(a) in (torch.Tensor, float, np.float64) for a in case.args)
        assert not case.kwargs and not case.extra


@pytest.mark.parametrize("seed", range(20))
def test_the_reference_agrees_with_the_solution_for_any_seed(solution, seed):
    from course_lib.exercises.registry import self_check_function

    assert self_check_function(questions()["6.1"], solution["adam_trajectory"], False, seed=seed).passed


@pytest.mark.parametrize("slip, fragment", [
    (_adam(bias_m=False, bias_v=False), "you left out the bias correction"),
    (_adam(bias_v=False), "you corrected m_t but not V_t"),
    (_adam(bias_m=False), "you corrected V_t but not m_t"),
    (_adam(eps_inside=True), "wrong value first at step"),  # ε inside the root
    (_adam(first_from_grads=True), "raised IndexError"),
])
def test_adam_slips_fail_with_a_message_that_names_them(slip, fragment):
    assert check("6.1", _adam(), quiet=True).passed
    result = check("6.1", slip, quiet=True)
    assert not result.passed and fragment in result.message, result.message


def test_the_zero_step_slip_names_its_family():
    message = check("6.1", _adam(first_from_grads=True), hidden="edge", quiet=True).message
    assert "zero steps (T = 0): just θ_0 = 0" in message


def test_the_predicted_values_are_the_closed_forms():
    s = RMSPROP_6_2
    assert rmsprop_first_step() == pytest.approx(s["theta0"] + s["lr"] / math.sqrt(1 - s["alpha"]), abs=1e-8)
    assert questions()["6.2"].compute()[0] == pytest.approx(0.6, abs=1e-8)  # 10 × lr, not lr: 0.51 ruled out
    r, e, g = ADADELTA_6_3["rho"], ADADELTA_6_3["eps"], ADADELTA_6_3["g"]
    assert adadelta_first_step(r, e, g) == pytest.approx(0.1 / math.sqrt(5.0001), rel=1e-12)
    assert questions()["6.3"].compute()[0] == pytest.approx(0.0447209, rel=1e-5)


@pytest.mark.parametrize("question, answer, fragment", [
    ("6.2", 0.51, "a step of γ as if V_1 were bias-corrected"),
    ("6.2", 0.5 + 0.01 * 4 / (0.99**0.5 * 4), "a step of γ as if V_1 were bias-corrected"),
    ("6.2", 0.4, "the step goes against the gradient"),
    ("6.2", 0.75, "you divided by V_1 itself"),
    ("6.2", 0.1, "that is the step θ_1 − θ_0"),
    ("6.2", 0.6 * 1.3, "is too high (off by 10 to 50 %)"),
    ("6.3", 0.0, "that ε is what starts Adadelta"),
    ("6.3", 10 / math.sqrt(5.0001), "that is RMSprop's step with γ = 1"),
    ("6.3", 0.01 * 10 / math.sqrt(100.0001), "did you drop the factor 1 − ρ"),
    ("6.3", 0.01 * 10 / math.sqrt(95.0001), "not ρ g_1²"),
])
def test_prediction_slips_get_their_hint(question, answer, fragment):
    result = check(question, answer, quiet=True)
    assert not result.passed and fragment in result.message, result.message


def test_predictions_accept_numpy_and_tensor_scalars():
    assert check("6.2", np.float64(0.6), quiet=True).passed
    assert check("6.3", torch.tensor(0.0447209), quiet=True).passed


def test_calling_an_adam_optimizer_is_flagged():
    forbid = list(questions()["6.1"].forbid)
    assert sub.library_calls("import torch\nopt = torch.optim.Adam([p])", forbid) == ["torch.optim.Adam"]
    assert sub.library_calls("from course_lib.optim import Adam\nAdam([p])", forbid) == ["course_lib.optim.Adam"]


def test_the_trusted_grader_grades_the_solutions_and_the_slips(tmp_path):
    from course_tools.grader.grading import grade

    for name in ("correct", "slips"):
        (tmp_path / "subs" / name).mkdir(parents=True)
    shutil.copy(SOLUTIONS, tmp_path / "subs" / "correct" / SOLUTIONS.name)
    nb = json.loads(SOLUTIONS.read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        text = text.replace("m_hat, V_hat = m / (1 - beta1**t), V / (1 - beta2**t)", "m_hat, V_hat = m, V")
        cell["source"] = text.replace("theta_1 = 0.5 + 0.01 * 4 / (0.1 * 4 + 1e-8)", "theta_1 = 0.51")
    (tmp_path / "subs" / "slips" / SOLUTIONS.name).write_text(json.dumps(nb))
    rows = grade(tmp_path / "subs", tmp_path / "r.csv", ROOT, timeout=60, check_timeout=20, echo=False, seed=5)
    got = {(Path(r.submission).parent.name, r.question): (r.points, r.message) for r in rows}
    for q, points in (("6.1", 3), ("6.2", 2), ("6.3", 2)):
        assert got["correct", q] == (points, "passed")
    assert got["slips", "6.1"][0] == 0 and "you left out the bias correction" in got["slips", "6.1"][1]
    assert got["slips", "6.2"][0] == 0 and "as if V_1 were bias-corrected" in got["slips", "6.2"][1]
    assert got["slips", "6.3"] == (2, "passed")


@pytest.mark.parametrize("mistake, hint", [
    ({"shift": 1}, "an off-by-one in the step count"),
    ({"eps_inside": True}, "ε inside the square root"),
])
def test_adams_classic_mistakes_get_their_own_hint(mistake, hint):
    from course_lib.exercises.ch06 import _adam_written_out

    def adam_trajectory(grads, lr, beta1, beta2, eps):
        return _adam_written_out(grads, lr, beta1, beta2, eps, **mistake)

    result = check("6.1", adam_trajectory, quiet=True)
    assert not result.passed and hint in result.message, result.message
    assert "\n" not in result.message and len(result.message) <= 500


def test_the_written_out_adam_agrees_with_the_reference():
    from course_lib.exercises.ch06 import _adam_written_out, adam_trajectory_reference

    grads = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(_adam_written_out(grads, 0.01, 0.9, 0.999, 1e-8),
                          adam_trajectory_reference(grads, 0.01, 0.9, 0.999, 1e-8), rtol=1e-12, atol=1e-15)
