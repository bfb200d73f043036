/*
 * Treatment pages - progressive enhancement only (the pages work without it).
 *  (a) [data-print] buttons print the page (the course record).
 *  (b) The log form recomputes the dose in machine output (%MT x MT / 100) as the
 *      technician types the intensity or a new motor threshold; the server checks again.
 *      The form may arrive later, opened in place on Today (htmx): each new one is set up.
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (button) { window.print(); }
  });

  function wholeNumber(input) {
    var value = input ? parseInt(input.value, 10) : NaN;
    return isNaN(value) ? null : value;
  }

  function setUp(form) {
    var output = form.parentNode.querySelector("#dose-output") ||
      document.getElementById("dose-output");
    if (!output || form.hasAttribute("data-dose-ready")) { return; }
    form.setAttribute("data-dose-ready", "");
    var intensity = form.querySelector("#intensity_pct_mt");
    var threshold = form.querySelector("#motor_threshold_pct");

    function update() {
      var mt = wholeNumber(threshold);
      if (mt === null) { mt = parseInt(form.getAttribute("data-last-mt"), 10); }
      var pct = wholeNumber(intensity);
      if (isNaN(mt) || mt === null || pct === null) {
        output.textContent = "enter a motor threshold and an intensity";
        return;
      }
      var dose = Math.round(pct * mt) / 100;
      output.textContent = pct + "% \u00d7 " + mt + "% MT = " + (Math.round(dose * 10) / 10) +
        "% of machine output" + (dose > 100 ? " (more than the device can deliver)" : "");
    }

    [intensity, threshold].forEach(function (input) {
      if (input) { input.addEventListener("input", update); }
    });
  }

  function setUpAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    Array.prototype.forEach.call(scope.querySelectorAll("form.log-form"), setUp);
  }

  setUpAll(document);
  document.addEventListener("htmx:load", function (event) { setUpAll(event.detail.elt); });
}());
