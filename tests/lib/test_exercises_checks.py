"""The self-check engine says in plain words what is wrong, and never raises into the notebook."""

import math

import numpy as np
import pytest
import torch

from course_lib.exercises import check, spec, wire
from course_lib.exercises.checks import Case
from course_lib.exercises.registry import questions, self_check_function, self_check_number
from course_lib.exercises.spec import Question


def reference(theta0, n_steps):
    """A tiny trajectory function: theta_n = theta0 * 0.5**n."""
    return torch.stack([theta0 * 0.5**n for n in range(n_steps + 1)])


CASES = [Case((torch.arange(1.0, 7.0, dtype=torch.float64).reshape(3, 2), 4), description="a 3x2 start")]


def run(student, time_limit_s: float = 2.0, input_hint: str = ""):
    """The student's self-check of a question declared like a chapter's (the path check() takes)."""
    question = Question("9.1", "implement", "a test question", name="f", reference=reference,
                        cases=lambda rng, group: CASES if group == "core" else [], rtol=1e-5, atol=1e-8,
                        steps=True, input_hint=input_hint, time_limit_s=time_limit_s,
                        arg_names=("theta0", "n_steps"))
    return self_check_function(question, student, False)


def check_number(question_id, answer, compute, reveal=False):
    question = Question(question_id, "predict", "a test prediction", name="x", compute=compute, rtol=0.01)
    return self_check_number(question, answer, False, reveal)


def test_a_correct_function_passes():
    result = run(lambda theta0, n_steps: reference(theta0.clone(), n_steps))
    assert result.passed and bool(result) and result.status == "passed" and "passed" in result.message


def test_wrong_shape_is_reported_with_both_shapes_and_a_hint_for_a_missing_start():
    result = run(lambda theta0, n_steps: reference(theta0, n_steps)[1:])
    assert result.status == "failed"
    assert "wrong shape: expected (5, 3, 2), got (4, 3, 2)" in result.message and "initial point" in result.message


def test_wrong_dtype_is_reported():
    result = run(lambda theta0, n_steps: reference(theta0, n_steps).float(), input_hint=" (the dtype of theta0)")
    assert "wrong dtype: expected torch.float64 (the dtype of theta0), got torch.float32" in result.message


def test_wrong_value_is_reported_first_at_step_k_with_both_values():
    def off_from_step_3(theta0, n_steps):
        out = reference(theta0, n_steps).clone()
        out[3:] += 1.0
        return out

    result = run(off_from_step_3)
    assert "wrong value first at step 3" in result.message
    assert "expected [0.125, 0.25, 0.375, 0.5, 0.625, 0.75]" in result.message
    assert "got [1.125, 1.25" in result.message


def test_an_in_place_change_of_the_input_is_reported_by_argument_name():
    def mutates(theta0, n_steps):
        out = reference(theta0.clone(), n_steps)
        theta0 *= 0.5
        return out

    result = run(mutates)
    assert "changed its input `theta0` in place" in result.message


def test_nan_is_reported_with_its_step():
    def nan_at_2(theta0, n_steps):
        out = reference(theta0, n_steps).clone()
        out[2, 1, 0] = float("nan")
        return out

    assert "produced NaN first at step 2" in run(nan_at_2).message


def test_an_exception_is_reported_with_the_students_line():
    def crashes(theta0, n_steps):
        d = theta0.shape[5]  # the line the message must quote
        return d

    result = run(crashes)
    assert result.status == "failed"
    assert "raised IndexError" in result.message
    assert "`d = theta0.shape[5]  # the line the message must quote`" in result.message
    assert "(in crashes)" in result.message


def test_an_infinite_loop_is_stopped_and_reported_as_too_slow():
    def loops(theta0, n_steps):
        while True:
            pass

    result = run(loops, time_limit_s=0.3)
    assert result.status == "failed" and "too slow" in result.message and "0.3 s" in result.message


def test_a_broad_except_in_student_code_cannot_swallow_the_time_limit():
    def loops_and_catches(theta0, n_steps):
        while True:
            try:
                pass
            except Exception:  # noqa: BLE001, S110 - the point of the test
                pass

    assert "too slow" in run(loops_and_catches, time_limit_s=0.3).message


def test_not_implemented_says_so_instead_of_raising():
    def stub(theta0, n_steps):
        raise NotImplementedError("Exercise 9.1: replace this line with your code")

    result = run(stub)
    assert result.status == "not_implemented" and "not implemented yet" in result.message


def test_a_non_function_answer_is_reported():
    assert run(...).status == "not_implemented"
    assert "expected a function" in run(3.0).message


def test_predictions_are_compared_without_revealing_the_value_unless_asked():
    def compute():
        return 0.25, "By simulation."

    assert check_number("9.2", 0.2501, compute).passed
    wrong = check_number("9.2", 0.3, compute)
    assert "is too high (off by 10 to 50 %)" in wrong.message and "0.25" not in wrong.message
    assert "The computed value is 0.25" in check_number("9.2", 0.3, compute, reveal=True).message
    assert check_number("9.2", ..., compute).status == "not_implemented"
    assert "single number" in check_number("9.2", "0.25", compute).message


def test_check_never_raises_and_handles_unknown_questions_and_explain_questions(capsys):
    assert check("9.9", 1.0).status == "internal_error"
    assert check("1.4").status == "manual"
    assert "graded by hand" in capsys.readouterr().out or True
    # a function with the wrong signature: the TypeError becomes a message
    result = check("1.1", lambda x: x, quiet=True)
    assert result.status == "failed" and "TypeError" in result.message


def _gradient_descent(grad, theta0, lr, n_steps):
    """The solution of 1.1 (the notebook's), which accepts numpy scalars as the task allows."""
    trajectory, theta = [theta0], theta0
    for _ in range(n_steps):
        theta = theta - lr * grad(theta)
        trajectory.append(theta)
    return torch.stack(trajectory)


def test_registered_checks_pass_the_solutions_and_fail_a_wrong_prediction():
    from course_lib.exercises.ch02 import minibatch_gradient_variance

    for hidden in (False, True, "edge"):
        assert check("1.1", _gradient_descent, hidden=hidden, quiet=True).passed
        assert check("2.3", minibatch_gradient_variance, hidden=hidden, quiet=True).passed
    assert check("1.2", 2 / 8, quiet=True).passed and not check("1.2", 2 / 2, quiet=True).passed
    assert check("1.3", 0.8, quiet=True).passed


# --- the self-check runs the grader's case families and its messages point at the bug (issue 8)

@pytest.mark.parametrize("question", ["1.1", "2.1", "2.3"])
def test_the_self_check_runs_every_family_the_grader_runs(question):
    q = questions()[question]
    self_check = {c.family for c in q.make_cases(spec.Rng(1), False)}
    for group in q.groups:
        assert {c.family for c in q.make_cases(spec.Rng(2), group)} <= self_check
    if question == "1.1":
        assert {"float32 inputs: return float32", "a single start, no batch dimension", "two batch dimensions",
                "zero steps: just theta0", "one learning rate per start",
                "numpy scalars for lr and n_steps"} <= self_check


def _gd(sign=-1.0, same_tensor=False, forget_return=False, as_numpy=False):
    def gradient_descent(grad, theta0, lr, n_steps):
        theta = theta0.clone()
        trajectory = [theta] if same_tensor else [theta0]
        for _ in range(n_steps):
            if same_tensor:
                theta -= lr * grad(theta)
                trajectory.append(theta)
            else:
                trajectory.append(trajectory[-1] + sign * lr * grad(trajectory[-1]))
        if forget_return:
            torch.stack(trajectory)
            return None
        out = torch.stack(trajectory)
        return out.numpy() if as_numpy else out

    return gradient_descent


def test_gradient_descent_messages_name_the_slip():
    assert check("1.1", _gd(), quiet=True).passed
    assert "your first step goes the opposite way (a sign flip" in check("1.1", _gd(sign=1.0), quiet=True).message
    assert "the same tensor" in check("1.1", _gd(same_tensor=True), quiet=True).message
    assert "did you forget `return`?" in check("1.1", _gd(forget_return=True), quiet=True).message
    numpy_message = check("1.1", _gd(as_numpy=True), quiet=True).message
    assert "returned a numpy array (numpy.ndarray), expected a torch.Tensor" in numpy_message
    assert "ndarray ndarray" not in numpy_message


def test_euler_maruyama_checks_the_drift_and_the_noise_terms_separately():
    def wrong_drift(drift, theta, h, diffusion, z):
        return theta - h * drift(theta) + diffusion * math.sqrt(h) * z

    def wrong_noise(drift, theta, h, diffusion, z):
        return theta + h * drift(theta) + diffusion * h * z

    assert "z = 0, so only the drift term h·drift(θ) counts" in check("2.1", wrong_drift, quiet=True).message
    assert "zero drift, so only the noise term s·√h·z counts" in check("2.1", wrong_noise, quiet=True).message


def test_variance_messages_give_the_classic_factors_and_name_the_right_argument():
    def unbiased(per_example_grads, batch_size):
        return per_example_grads.var(dim=0).sum() / batch_size

    def no_batch(per_example_grads, batch_size):
        return per_example_grads.var(dim=0, unbiased=False).sum()

    def in_place(per_example_grads, batch_size):
        per_example_grads -= per_example_grads.mean(dim=0)
        return (per_example_grads**2).sum(dim=1).mean() / batch_size

    assert "N/(N − 1): you used the sample (unbiased) variance" in check("2.3", unbiased, quiet=True).message
    assert "B: you did not divide by the batch size B" in check("2.3", no_batch, quiet=True).message
    message = check("2.3", in_place, quiet=True).message
    assert "changed its input `per_example_grads` in place" in message and "theta" not in message


def test_predictions_accept_numpy_and_tensor_scalars_and_hint_at_factors():
    assert check("2.2", np.float64(0.05), quiet=True).passed
    assert check("2.2", torch.tensor(0.05), quiet=True).passed
    assert "is the 2 missing?" in check("2.2", 0.1, quiet=True).message


def test_the_wire_carries_plain_data_only():
    class Sneaky(torch.Tensor):
        pass

    assert type(wire.decode(wire.encode(torch.ones(2)))) is torch.Tensor
    assert isinstance(wire.decode(wire.encode(torch.ones(2).as_subclass(Sneaky))), wire.Opaque)
    assert isinstance(wire.decode(wire.encode(object())), wire.Opaque)
    assert wire.decode(wire.encode(np.float64(0.5))) == 0.5
    import base64
    import io

    pickled = io.BytesIO()
    np.save(pickled, np.array([object()], dtype=object), allow_pickle=True)  # an object array needs pickle
    with pytest.raises(ValueError):
        wire.decode({"numpy": base64.b64encode(pickled.getvalue()).decode(), "scalar": False})
    with pytest.raises(ValueError, match="not plain numbers"):
        wire.decode({"numpy": {"dtype": "|O", "shape": [1], "data": "", "scalar": False}})
    case = spec.to_plain((spec.Fn("quadratic_grad", hessian=[[2.0]], minimizer=[1.0]), 3))
    grad = spec.build(spec.from_plain(case))[0]
    assert torch.equal(grad(torch.tensor([2.0])), torch.tensor([2.0]))


def test_the_graders_case_limit_counts_cpu_seconds_so_load_cannot_change_the_verdict(monkeypatch):
    import time

    from course_lib.exercises import checks

    monkeypatch.setattr(checks, "wall_limit", lambda seconds: 1.5)  # the backstop, shortened for the test
    slept = checks.call_student(lambda: time.sleep(0.5) or 1.0, (), {}, (), 0.2, cpu=True)
    assert slept["status"] == "returned"  # 0.5 s of wall time but almost no CPU: within 0.2 CPU-s

    def burn():
        while True:
            pass

    assert checks.call_student(burn, (), {}, (), 0.2, cpu=True)["status"] == "timeout"  # 0.2 CPU-s
    start = time.monotonic()
    assert checks.call_student(lambda: time.sleep(30), (), {}, (), 0.2, cpu=True)["status"] == "timeout"
    assert time.monotonic() - start < 5  # a call that only sleeps is stopped by the wall-clock backstop
