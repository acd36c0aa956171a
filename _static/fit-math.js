// Phones: shrink each display equation that is wider than its column (down to MIN_SCALE), after MathJax
// has typeset the page and again when the window is resized. A display that still does not fit scrolls
// inside its own box (_static/phone.css). Checked at 390 px by tests/test_browser.py.
(function () {
  const MIN_SCALE = 0.7;
  function fit() {
    for (const el of document.querySelectorAll('mjx-container[display="true"]')) {
      el.style.fontSize = '';
      const avail = el.clientWidth, need = el.scrollWidth;
      if (need > avail + 1 && avail > 0) {
        const scale = Math.max(MIN_SCALE, avail / need * 0.98);
        el.style.fontSize = (scale * 100).toFixed(1) + '%';
        el.dataset.courseScale = scale.toFixed(3);
      } else {
        delete el.dataset.courseScale;
      }
    }
  }
  function whenTypeset() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(fit);
    } else {
      setTimeout(whenTypeset, 100);
    }
  }
  window.addEventListener('load', whenTypeset);
  let timer = null;
  window.addEventListener('resize', () => { clearTimeout(timer); timer = setTimeout(fit, 150); });
  window.courseFitMath = fit;
})();
