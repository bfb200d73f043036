/*
 * TMS clinic - progressive enhancement only. Every page works without this
 * file; it is loaded with `defer` from base.html / bare.html and contains no
 * inline handlers, so it is compatible with `script-src 'self'`.
 *
 *  (a) [data-confirm="Question?"] on a <form>, a submit <button>/<input> or a
 *      link asks window.confirm() before the action goes ahead.
 *  (b) .flash messages get a "Dismiss" close button.
 *  (c) <select data-autosubmit> submits its form on change. Elements inside
 *      that form marked [data-autosubmit-fallback] (e.g. the "Apply" button
 *      kept for no-JS users) are hidden once JS is running.
 *  (d) <body data-idle-timeout-seconds="1800"> shows a notice one minute
 *      before the server-side idle timeout. Optional
 *      data-keepalive-url="/auth/keepalive" adds a "Stay signed in" button
 *      that GETs that URL (same origin) and restarts the countdown.
 *  (e) htmx: a target marked [data-swap-refusals] also shows the server's 409
 *      and 422 answers in place (the form again with its errors), as a full post
 *      would; after a swap, focus goes to the new content's [data-focus].
 */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  /* (a) confirmation ---------------------------------------------------- */
  // Clicks on buttons/links carrying data-confirm.
  document.addEventListener("click", function (event) {
    var el = event.target instanceof Element ? event.target.closest(
      "a[data-confirm], button[data-confirm], input[data-confirm]") : null;
    if (!el) { return; }
    if (!window.confirm(el.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    // Remember that this submitter was already confirmed so the form-level
    // check below does not ask a second time.
    var form = el.form;
    if (form) {
      form.setAttribute("data-confirmed", "1");
      // Submission (if any) happens synchronously after this click; clear the
      // flag afterwards in case validation blocked it.
      setTimeout(function () { form.removeAttribute("data-confirmed"); }, 0);
    }
  }, true);

  // Forms carrying data-confirm (covers Enter-key submissions too).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    if (form.getAttribute("data-confirmed") === "1") {
      form.removeAttribute("data-confirmed");
      return;
    }
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  /* (b) dismissible flash messages --------------------------------------- */
  function enhanceFlashes() {
    var flashes = document.querySelectorAll(".flash");
    Array.prototype.forEach.call(flashes, function (flash) {
      if (flash.querySelector(".flash-close")) { return; }
      var button = document.createElement("button");
      button.type = "button";
      button.className = "flash-close";
      button.setAttribute("aria-label", "Dismiss message");
      button.textContent = "\u00d7";
      button.addEventListener("click", function () {
        var container = flash.parentElement;
        flash.remove();
        if (container && container.classList.contains("flashes") &&
            !container.querySelector(".flash")) {
          container.remove();
        }
        // Put keyboard focus somewhere sensible instead of <body>.
        var main = document.getElementById("main");
        if (main) { main.focus({ preventScroll: true }); }
      });
      flash.appendChild(button);
    });
  }

  /* (c) auto-submitting selects ------------------------------------------ */
  function enhanceAutosubmit() {
    var selects = document.querySelectorAll("select[data-autosubmit]");
    Array.prototype.forEach.call(selects, function (select) {
      var form = select.form;
      if (!form) { return; }
      Array.prototype.forEach.call(
        form.querySelectorAll("[data-autosubmit-fallback]"),
        function (el) { el.hidden = true; }
      );
      select.addEventListener("change", function () {
        if (typeof form.requestSubmit === "function") {
          form.requestSubmit();   // fires submit event (data-confirm, validation)
        } else {
          form.submit();
        }
      });
    });
  }

  /* (d) idle-timeout warning --------------------------------------------- */
  function setupIdleWarning() {
    var body = document.body;
    var seconds = parseInt(body.getAttribute("data-idle-timeout-seconds") || "", 10);
    if (!seconds || seconds <= 0) { return; }
    var keepaliveUrl = body.getAttribute("data-keepalive-url");
    var warnBefore = Math.min(60, Math.floor(seconds / 2));
    var warnTimer = null;
    var expireTimer = null;
    var notice = null;

    function removeNotice() {
      if (notice) { notice.remove(); notice = null; }
    }

    function makeButton(text, onClick) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.addEventListener("click", onClick);
      return b;
    }

    function showNotice(expired) {
      removeNotice();
      notice = document.createElement("div");
      notice.className = "idle-notice no-print";
      notice.setAttribute("role", "alert");
      var p = document.createElement("p");
      p.textContent = expired
        ? "Your session has expired because of inactivity. Unsaved changes may be lost; you will be asked to sign in again."
        : "For security you will be signed out in about one minute because of inactivity. Save your work to stay signed in.";
      notice.appendChild(p);
      var actions = document.createElement("div");
      actions.className = "idle-actions";
      if (expired) {
        actions.appendChild(makeButton("Reload page", function () { window.location.reload(); }));
      } else if (keepaliveUrl) {
        actions.appendChild(makeButton("Stay signed in", function () {
          fetch(keepaliveUrl, { credentials: "same-origin", cache: "no-store" })
            .then(function (r) {
              if (r.ok && !r.redirected) { removeNotice(); start(); } else { showNotice(true); }
            })
            .catch(function () { showNotice(true); });
        }));
      }
      var dismiss = makeButton("Dismiss", removeNotice);
      dismiss.className = "secondary outline";
      actions.appendChild(dismiss);
      notice.appendChild(actions);
      body.appendChild(notice);
    }

    function start() {
      clearTimeout(warnTimer);
      clearTimeout(expireTimer);
      warnTimer = setTimeout(function () { showNotice(false); }, (seconds - warnBefore) * 1000);
      expireTimer = setTimeout(function () { showNotice(true); }, seconds * 1000);
    }

    // Any request to the server resets its idle clock; a page load is one.
    start();
  }

  function init() {
    enhanceFlashes();
    enhanceAutosubmit();
    setupIdleWarning();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }

  /* (e) htmx partial updates --------------------------------------------- */
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var target = event.detail.target;
    if ((status === 409 || status === 422) && target instanceof Element &&
        target.closest("[data-swap-refusals]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:afterSettle", function () {
    var focus = document.querySelector("[data-focus]");
    if (focus) {
      focus.removeAttribute("data-focus");  // once: a later swap elsewhere keeps its focus
      focus.focus();
    }
  });
})();
