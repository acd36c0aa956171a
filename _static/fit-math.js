// Phones: shrink each display equation that is wider than its column (down to MIN_SCALE = 60 % of the size
// MathJax gave it), after MathJax has typeset the page and again when the window is resized. A display
// that still does not fit scrolls inside its own box (_static/phone.css). Checked at 390 px by
// tests/book/test_browser.py.
(function () {
  const MIN_SCALE = 0.6;  // tests/book/test_browser.py's MIN_MATH_SCALE
  // Every pass measures all displays (one layout of the page) before it resizes any (reading a size
  // after a write forces a new layout: per display, that was up to four layouts each on a long page).
  function fit() {
    const displays = Array.from(document.querySelectorAll('mjx-container[display="true"]'), (el) => {
      if (el.dataset.courseFont === undefined) el.dataset.courseFont = el.style.fontSize || '100%';
      const base = parseFloat(el.dataset.courseFont) || 100;
      el.style.fontSize = base + '%';
      return { el, base, scale: 1, done: false };
    });
    // the room is the parent's (a tagged display can make the container itself wider than the column)
    const room = (el) => Math.min(el.clientWidth, el.parentElement ? el.parentElement.clientWidth : el.clientWidth);
    const need = (el) => Math.max(el.scrollWidth, el.getBoundingClientRect().width);
    for (let i = 0; i < 4; i++) {
      const open = displays.filter((d) => !d.done);
      const sizes = open.map((d) => [room(d.el), need(d.el)]);
      open.forEach((d, k) => {
        const [r, n] = sizes[k];
        if (!(n > r + 1 && r > 0)) { d.done = true; return; }
        d.scale = Math.max(MIN_SCALE, d.scale * r / n * 0.99);
        d.el.style.fontSize = (d.base * d.scale).toFixed(1) + '%';
        if (d.scale === MIN_SCALE) d.done = true;
      });
      if (displays.every((d) => d.done)) break;
    }
    for (const d of displays) {
      if (d.scale < 1) d.el.dataset.courseScale = d.scale.toFixed(3); else delete d.el.dataset.courseScale;
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
