/*
 * Treatment pages - progressive enhancement only (the pages work without it).
 *  (a) [data-print] buttons print the page (the course record).
 *  (b) The log form recomputes the dose in machine output (%MT x MT / 100) as the
 *      technician types the intensity or a new motor threshold; the server checks again.
 */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-print]") : null;
    if (button) { window.print(); }
  });

  var form = document.querySelector("form.log-form");
  var output = document.getElementById("dose-output");
  if (!form || !output) { return; }
  var intensity = form.querySelector("#intensity_pct_mt");
  var threshold = form.querySelector("#motor_threshold_pct");

  function wholeNumber(input) {
    var value = input ? parseInt(input.value, 10) : NaN;
    return isNaN(value) ? null : value;
  }

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
}());
