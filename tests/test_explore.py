"""The explorer page in a real browser: it runs offline without errors, and its descent is gdlearn's.

The page written by :func:`gdlearn.explore` is opened in headless Chromium (Debian's ``chromium`` package, driven by
Playwright; ``.ci/run`` installs it). Where the browser is missing these tests fail, they do not skip. References
are independent of the page: 2/L from the largest eigenvalue of the data's second-moment matrix computed here, the
optimum from a tight gdlearn fit (and least squares), the steps from gdlearn's own ``solver="gd"`` path.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import warnings

import numpy as np
import pytest

import gdlearn
from gdlearn import LinearRegression, LogisticRegression
from gdlearn.explorer import explore

CHROMIUM = os.environ.get("GDLEARN_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.fail(
            "Chromium is needed to test the explorer page: install Debian's package (sudo apt-get install chromium) "
            "or set GDLEARN_CHROMIUM to a Chromium executable. .ci/run installs it.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright  # the test extra: missing fails (imported here, not at collection)

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


class Page:
    """A page opened offline: every request but the file itself is refused and recorded, every console error kept."""

    def __init__(self, browser, path):
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.requests, self.errors = [], []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type in ("error", "warning") else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function("() => window.explorer !== undefined")

    def _route(self, route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def alpha(self, ratio: float, solver: str = "gd") -> dict:
        """Set the solver and the α slider (in units of 2/L); the run's outcome and last point."""
        self.page.select_option("#solver", solver)
        self.page.locator("#alpha").fill(str(ratio))
        return self.status()

    def status(self) -> dict:
        s = self.page.locator("#status")
        return {k: s.get_attribute(f"data-{k}") for k in ("outcome", "a", "b", "steps", "shown")}

    def evaluate(self, script, arg=None):
        return self.page.evaluate(script, arg)

    def close(self):
        assert self.errors == [], self.errors
        assert self.requests == [], f"the page asked the network for {self.requests}"
        self.context.close()


@pytest.fixture
def open_page(browser):
    pages = []

    def opener(path):
        pages.append(Page(browser, path))
        return pages[-1]

    yield opener
    for p in pages:
        p.close()


@pytest.fixture(scope="module")
def one_feature():
    """y = 2x + 1 + noise with x around 3: an elongated but not hopeless (w, b) valley."""
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 1.0, size=(60, 1))
    return x, 2.0 * x[:, 0] + 1.0 + 0.5 * rng.normal(size=60)


def _L(A):
    """Largest eigenvalue of AᵀA/m: L of the squared loss over the columns of A."""
    return float(np.linalg.eigvalsh(A.T @ A / len(A))[-1])


def test_alpha_above_2_over_L_diverges_and_below_converges_to_gdlearns_optimum(tmp_path, open_page, one_feature):
    x, y = one_feature
    page = open_page(explore(x, y, ("w0", "b"), tmp_path / "p.html"))
    L = _L(np.column_stack([x, np.ones(len(x))]))
    D = page.evaluate("explorer.D")
    assert D["L"] == pytest.approx(L, rel=1e-10) and D["exact"] is True
    ref = LinearRegression(tol=1e-12).fit(x, y)
    lstsq = np.linalg.lstsq(np.column_stack([x, np.ones(len(x))]), y, rcond=None)[0]
    np.testing.assert_allclose([ref.coef_[0], ref.intercept_], lstsq, rtol=1e-9)
    for ratio in (0.5, 0.98):
        run = page.alpha(ratio)
        assert run["outcome"] == "converged", (ratio, run)
        assert abs(float(run["a"]) - ref.coef_[0]) < 1e-6 and abs(float(run["b"]) - ref.intercept_) < 1e-6
    for ratio in (1.02, 1.5):
        assert page.alpha(ratio)["outcome"] == "diverged", ratio
    text = page.page.locator("#alphaText").text_content()
    assert f"α = 1.500 × 2/L = {float(f'{3.0 / L:.5g}'):g}" in text
    assert "diverges" in page.page.locator("#status").text_content()


def test_the_replayed_steps_are_gdlearns(tmp_path, open_page, one_feature):
    """gd and momentum in the page take gdlearn's steps: the paths of fits with solver='gd'/'momentum', to 1e-9."""
    x, y = one_feature
    page = open_page(explore(x, y, "w0,b", tmp_path / "p.html"))
    L = page.evaluate("explorer.D.L")
    for solver, ratio in (("gd", 0.9), ("momentum", 0.3)):
        alpha = ratio * 2 / L
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = LinearRegression(solver=solver, learning_rate=alpha, precondition=False, max_iter=40, tol=0.0)
            fit.set_params(record_path=True).fit(x, y, coef_init=[0.5], intercept_init=-1.0)
        steps = page.evaluate(f"explorer.run([0.5, -1.0], '{solver}', {alpha!r}).pts.slice(0, 41)")
        np.testing.assert_allclose(steps, fit.path_, rtol=1e-9, atol=1e-12)


def test_slice_of_several_features_and_the_log_loss(tmp_path, open_page, breast_cancer_std, housing_std):
    """A labelled slice through gdlearn's fit: J is gdlearn's objective, and the descent ends at gdlearn's optimum."""
    X, y = breast_cancer_std
    X = X[:, :4]
    est = LogisticRegression(l2=1.0)
    page = open_page(explore(X, y, ("w1", "b"), tmp_path / "c.html", estimator=est))
    ref = LogisticRegression(l2=1.0, solver="newton", tol=1e-12).fit(X, y)
    problem = ref.get_objective(X, y)
    w1, b_star = ref.coef_[0, 1], ref.intercept_[0]
    for a, b in ((0.3, -0.2), (w1 + 1, b_star - 2)):
        theta = ref.theta_.copy()
        theta[1, 0], theta[-1, 0] = a, b
        J, grad = problem.value_and_grad(theta)
        page_J, ga, gb = page.evaluate(f"explorer.lossGrad({float(a)!r}, {float(b)!r})")
        assert page_J == pytest.approx(J, rel=1e-12)
        np.testing.assert_allclose([ga, gb], [grad[1, 0], grad[-1, 0]], rtol=1e-10, atol=1e-14)
    assert "A slice of J: the other 3 parameters" in page.page.locator("#what").text_content()
    run = page.alpha(0.9)
    assert run["outcome"] == "converged"
    assert abs(float(run["a"]) - w1) < 1e-6 and abs(float(run["b"]) - b_star) < 1e-6

    X, y = housing_std
    page = open_page(explore(X, y, ("w5", "w11"), tmp_path / "h.html"))
    ref = LinearRegression(tol=1e-12).fit(X, y)
    A = X[:, [5, 11]]
    assert page.evaluate("explorer.D.L") == pytest.approx(_L(A), rel=1e-10)  # the slice's own curvature
    run = page.alpha(0.95)
    assert run["outcome"] == "converged"
    assert abs(float(run["a"]) - ref.coef_[5]) < 1e-6 and abs(float(run["b"]) - ref.coef_[11]) < 1e-6
    assert page.alpha(1.05)["outcome"] == "diverged"
    # momentum's limit on a quadratic is 2(1 + β)/L = 1.9 × 2/L: where gd flies off, momentum still converges
    assert page.alpha(1.5, "momentum")["outcome"] == "converged"
    assert page.alpha(1.5, "gd")["outcome"] == "diverged"


def test_click_picks_the_start_and_the_screenshot_is_a_picture(tmp_path, open_page, one_feature):
    x, y = one_feature
    page = open_page(explore(x, y, ("w0", "b"), tmp_path / "p.html"))
    box = page.page.locator("#surface").bounding_box()
    page.page.mouse.click(box["x"] + 100, box["y"] + 60)
    start = page.evaluate("explorer.state().start")
    (a0, a1), (b0, b1) = page.evaluate("explorer.D.extent")
    assert a0 < start[0] < a0 + 0.2 * (a1 - a0) and b1 - 0.2 * (b1 - b0) < start[1] < b1  # the upper-left corner
    assert page.evaluate("explorer.state().R.pts[0]") == start
    assert page.status()["outcome"] == "converged"
    page.page.click("#end")
    assert page.status()["shown"] == page.status()["steps"]
    page.page.click("#play")  # pause
    page.page.click("#restart")
    page.page.click("#step")
    assert page.status()["shown"] == "1"
    import matplotlib.image as mpimg

    shot = mpimg.imread(io.BytesIO(page.page.locator("#surface").screenshot()), format="png")
    pixels = shot[..., :3].reshape(-1, 3)
    assert len(np.unique(np.round(pixels * 255), axis=0)) > 200  # the coloured surface, not a blank canvas
    assert pixels.std(axis=0).min() > 0.1
    # the nudge: ΔJ for a small ε of one parameter is ε·∂J/∂θ + ½·H·ε², H = mean(x²) for w and 1 for b (exact here)
    for i, H in enumerate((np.mean(x**2), 1.0)):
        eps, dJ, linear = (float(page.page.locator(f"#{k}{i}").text_content()) for k in "edp")
        assert dJ - linear == pytest.approx(0.5 * H * eps**2, rel=0.02)


# ------------------------------------------------------------------ without a browser
def test_the_page_is_one_self_contained_file(tmp_path, one_feature):
    x, y = one_feature
    path = gdlearn.explore(x, y, out=tmp_path / "p.html", title="A </script> in the title")
    html = path.read_text(encoding="utf-8")
    assert "<script src" not in html and "http://" not in html and "https://" not in html and "fetch(" not in html
    data = html.split("const D = ", 1)[1].split(";\n", 1)[0]
    assert json.loads(data.replace("<\\/", "</"))["title"] == "A </script> in the title"
    assert html.count("</script>") == 1


def test_explore_refuses_what_the_page_cannot_show(tmp_path, one_feature, housing_std):
    x, y = one_feature
    with pytest.raises(ValueError, match="L1"):
        explore(x, y, out=tmp_path / "p.html", estimator=LinearRegression(l1=1.0))
    with pytest.raises(ValueError, match="one output"):
        explore(x, np.column_stack([y, -y]), out=tmp_path / "p.html")
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        explore(x, y, ("nope", "b"), tmp_path / "p.html")
    X, y = housing_std
    page = explore(X, y, ("LSTAT", "b"), tmp_path / "n.html", feature_names=[f"f{j}" for j in range(11)] + ["LSTAT"])
    assert '"w11 (LSTAT)"' in page.read_text(encoding="utf-8")
    assert not list(tmp_path.glob("p.html"))


def test_explore_command(tmp_path, capsys):
    from gdlearn.cli import main

    out = tmp_path / "page.html"
    status = main(["explore", "housing", "--features", "LSTAT", "--out", str(out), "--quiet"])
    assert status == 0 and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert '"w0 (LSTAT)"' in out.read_text(encoding="utf-8")
    status = main(["explore", "breast-cancer", "--standardize", "--l2", "1", "--params", "w0,w1", "--out", str(out)])
    assert status == 0 and f"wrote {out}" in capsys.readouterr().out
    assert main(["explore", "housing", "--params", "w0,nope", "--out", str(out)]) == 2
    assert "unknown parameter 'nope'" in capsys.readouterr().err
