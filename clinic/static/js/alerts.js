/*
 * Alerts page - progressive enhancement only (the form works without it).
 * The ASQ's fifth question (acuity) is asked only after a yes to one of the first four:
 * it stays hidden and unanswered until then, and becomes required when shown.
 */
(function () {
  "use strict";

  document.querySelectorAll("[data-asq]").forEach(function (screen) {
    var acuity = screen.querySelector("[data-asq-acuity]");
    if (!acuity) { return; }
    var acuityInputs = acuity.querySelectorAll("input[type=radio]");

    function update() {
      var anyYes = screen.querySelector(
        "input[type=radio][value=yes]:checked:not([name=asq_5])") !== null;
      acuity.hidden = !anyYes;
      acuityInputs.forEach(function (input) {
        input.required = anyYes;
        if (!anyYes) { input.checked = false; }
      });
    }

    screen.addEventListener("change", update);
    update();
  });
}());
