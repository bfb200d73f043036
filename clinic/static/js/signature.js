// The tablet's signature pad: draw on the canvas with a finger, stylus or mouse; on
// submit the drawing goes into the hidden `drawn_signature` field as a PNG data URL.
(function () {
  "use strict";
  var pad = document.querySelector("[data-signature-pad]");
  var form = pad && pad.closest("form");
  if (!form) return;
  var canvas = pad.querySelector("canvas");
  var context = canvas.getContext("2d");
  // Named `drawn_signature`, or `consent-drawn_signature` on the intake page.
  var hidden = form.querySelector("input[name$=drawn_signature]");
  var drawing = false;
  var inked = false;
  context.lineWidth = 2.5;
  context.lineCap = "round";
  context.strokeStyle = "#000";
  // A page shown again after a refusal keeps the drawing it was sent with.
  if (hidden && hidden.value.indexOf("data:image/png;base64,") === 0) {
    var kept = new Image();
    kept.onload = function () { context.drawImage(kept, 0, 0); inked = true; };
    kept.src = hidden.value;
  }

  function point(event) {
    var box = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - box.left) * (canvas.width / box.width),
      y: (event.clientY - box.top) * (canvas.height / box.height),
    };
  }
  canvas.addEventListener("pointerdown", function (event) {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    var at = point(event);
    context.beginPath();
    context.moveTo(at.x, at.y);
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) return;
    var at = point(event);
    context.lineTo(at.x, at.y);
    context.stroke();
    inked = true;
  });
  ["pointerup", "pointercancel", "pointerleave"].forEach(function (name) {
    canvas.addEventListener(name, function () { drawing = false; });
  });
  pad.querySelector("[data-clear-signature]").addEventListener("click", function () {
    context.clearRect(0, 0, canvas.width, canvas.height);
    inked = false;
  });
  form.addEventListener("submit", function () {
    hidden.value = inked ? canvas.toDataURL("image/png") : "";
  });
})();
