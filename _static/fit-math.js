// Phones: shrink each display equation that is wider than its column (down to MIN_SCALE = 60 % of the size
// MathJax gave it), after MathJax has typeset the page and again when the window is resized. A display
// that still does not fit scrolls inside its own box (_static/phone.css). Checked at 390 px by
// tests/book/test_browser.py.
(function () {
  const MIN_SCALE = 0.6;  // tests/book/test_browser.py's MIN_MATH_SCALE
  function fit() {
    for (const el of document.querySelectorAll('mjx-container[display="true"]')) {
      if (el.dataset.courseFont === undefined) el.dataset.courseFont = el.style.fontSize || '100%';
      const base = parseFloat(el.dataset.courseFont) || 100;
      el.style.fontSize = base + '%';
      // the room is the parent's (a tagged display can make the container itself wider than the column)
      const room = () => Math.min(el.clientWidth, el.parentElement ? el.parentElement.clientWidth : el.clientWidth);
      const need = () => Math.max(el.scrollWidth, el.getBoundingClientRect().width);
      let scale = 1;
      for (let i = 0; i < 4 && need() > room() + 1 && room() > 0; i++) {
        scale = Math.max(MIN_SCALE, scale * room() / need() * 0.99);
        el.style.fontSize = (base * scale).toFixed(1) + '%';
        if (scale === MIN_SCALE) break;
      }
      if (scale < 1) el.dataset.courseScale = scale.toFixed(3); else delete el.dataset.courseScale;
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
