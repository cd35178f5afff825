/*
 * Glue between the book's pages and the ipywidgets embed manager, loaded after require.js and
 * before html-manager/embed-amd.js (see nb_ipywidgets_js in _config.yml).
 *
 * 1. The embed manager typesets widget labels with the MathJax 2 API,
 *    `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`, whenever `window.MathJax` exists.
 *    Sphinx loads MathJax 3 (deferred), which has no `Hub`, so the page would throw. We give
 *    every object ever assigned to `window.MathJax` a non-enumerable `Hub` whose `Queue` waits
 *    for MathJax 3 to start and then calls `MathJax.typesetPromise`. Non-enumerable, so MathJax 3
 *    never mistakes it for configuration.
 * 2. Each AMD module of the bundle (`@jupyter-widgets/html-manager/dist/libembed-amd`,
 *    `@jupyter-widgets/controls`, `@jupyter-widgets/base`, ...) injects CSS whose fonts it looks
 *    for next to its own module URL. Without a mapping require.js resolves those ids relative
 *    to the page, and the fonts 404. We map them all to our local copy, which sits next to this
 *    file in _static/html-manager/ together with the fonts.
 * 3. The sliders' handles (noUiSlider, role="slider") have no accessible name, and announce the
 *    index of the selected option ("2") instead of the option the readout shows ("0.5"). We
 *    name each handle by its widget's label (aria-labelledby) and keep its aria-valuetext equal
 *    to the readout, whenever either changes.
 */
(function () {
  "use strict";

  // Where this script was loaded from: _static/, which also holds html-manager/.
  var here = document.currentScript ? document.currentScript.src : "";
  var staticRoot = here.slice(0, here.lastIndexOf("/") + 1);

  if (window.requirejs && staticRoot) {
    var local = staticRoot + "html-manager";
    window.requirejs.config({
      paths: {
        "@jupyter-widgets/html-manager/dist": local, // .../dist/libembed-amd -> html-manager/
        "@jupyter-widgets": local, // @jupyter-widgets/controls, /base, ... -> html-manager/
      },
    });
  }

  // --- MathJax 2 -> 3 adapter -----------------------------------------------------------
  var pending = [];
  var flushing = false;

  function mathJax3Ready() {
    var mj = window.MathJax;
    return mj && mj.startup && mj.startup.promise && typeof mj.typesetPromise === "function";
  }

  function flush() {
    if (flushing) return;
    if (!mathJax3Ready()) {
      setTimeout(flush, 50);
      return;
    }
    flushing = true;
    var mj = window.MathJax;
    mj.startup.promise
      .then(function () {
        var jobs = pending.splice(0);
        var elements = [];
        jobs.forEach(function (job) {
          if (typeof job === "function") job();
          else if (job && job.element) elements.push(job.element);
        });
        var live = elements.filter(function (el) { return el && el.isConnected; });
        return live.length ? mj.typesetPromise(live) : null;
      })
      .catch(function (err) { console.warn("widget-shim: MathJax typesetting failed", err); })
      .then(function () {
        flushing = false;
        if (pending.length) flush();
      });
  }

  // Hub.Queue accepts what the embed manager passes: ["Typeset", Hub, element] or a function.
  var hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset") pending.push({ element: job[2] });
        else if (typeof job === "function") pending.push(job);
      }
      flush();
    },
  };

  function withHub(value) {
    if (value && typeof value === "object" && !Object.prototype.hasOwnProperty.call(value, "Hub")) {
      Object.defineProperty(value, "Hub", { value: hub, enumerable: false, configurable: true });
    }
    return value;
  }

  // --- Slider names for screen readers ----------------------------------------------------
  var labelCount = 0;

  function nameSliders() {
    var sliders = document.querySelectorAll(".widget-slider");
    for (var i = 0; i < sliders.length; i++) {
      var label = sliders[i].querySelector(".widget-label");
      var readout = sliders[i].querySelector(".widget-readout");
      var handles = sliders[i].querySelectorAll('[role="slider"]');
      for (var h = 0; h < handles.length; h++) {
        var handle = handles[h];
        if (label && label.textContent.trim()) {
          if (!label.id) label.id = "mdlib-slider-label-" + ++labelCount;
          if (handle.getAttribute("aria-labelledby") !== label.id) handle.setAttribute("aria-labelledby", label.id);
        }
        var text = readout ? readout.textContent.trim() : "";
        if (text && handle.getAttribute("aria-valuetext") !== text) handle.setAttribute("aria-valuetext", text);
      }
    }
  }

  var naming = false;
  function scheduleNaming() {
    if (naming) return;
    naming = true;
    Promise.resolve().then(function () {
      naming = false;
      nameSliders();
    });
  }

  if (window.MutationObserver) {
    new MutationObserver(function (records) {
      for (var i = 0; i < records.length; i++) {
        var target = records[i].target;
        var element = target.nodeType === 1 ? target : target.parentElement;
        if (element && element.closest && element.closest(".widget-slider, .jupyter-widgets, .widget-subarea")) {
          scheduleNaming();
          return;
        }
      }
    }).observe(document.documentElement, {
      subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["aria-valuetext"],
    });
  }

  var current = withHub(window.MathJax);
  try {
    Object.defineProperty(window, "MathJax", {
      configurable: true,
      enumerable: true,
      get: function () { return current; },
      set: function (value) { current = withHub(value); },
    });
  } catch (err) {
    console.warn("widget-shim: cannot adapt MathJax for the widget manager", err);
  }
})();
