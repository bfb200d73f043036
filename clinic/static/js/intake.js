// The intake page's "All no": every screening question still open is answered No, so a
// screening with no positive item takes one click; each answer is still a radio the
// form sends (and the screening records), and a Yes already chosen stays.
(function () {
  "use strict";
  var row = document.querySelector("[data-all-no]");
  if (!row) return;
  var scope = document.getElementById(row.getAttribute("data-all-no"));
  var status = row.querySelector("[role=status]");
  row.hidden = false;
  row.querySelector("button").addEventListener("click", function () {
    var answered = 0;
    scope.querySelectorAll("fieldset.field-radio").forEach(function (question) {
      var no = question.querySelector("input[type=radio][value=no]");
      if (!no || question.querySelector("input[type=radio]:checked")) return;
      no.checked = true;
      answered += 1;
    });
    status.textContent = answered + " questions answered No. Change any that is Yes.";
  });
})();
