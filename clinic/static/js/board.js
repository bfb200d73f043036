/*
 * The day board and the week view as a resource calendar (EventCalendar, vendored):
 * chairs as columns, sessions coloured by status, click for a session's menu, drag and
 * drop to move (the server's booking service decides; a refusal puts the session back and
 * says why), with undo. Privacy mode shows initials only, for a screen patients can see.
 * Without JavaScript the server-rendered table stays; this file only replaces it.
 */
(function () {
  "use strict";

  var root = document.getElementById("resource-calendar");
  if (!root || typeof EventCalendar === "undefined") { return; }

  var feedUrl = root.getAttribute("data-feed-url");
  var days = root.getAttribute("data-days");
  var csrf = root.getAttribute("data-csrf");
  var status = document.getElementById("calendar-status");
  var menu = document.getElementById("session-menu");
  var privacyBox = document.getElementById("privacy-mode");
  var fallback = document.getElementById("board-fallback");
  var PRIVACY_KEY = "clinic.board.privacy";
  var calendar = null;

  function privacy() { return privacyBox && privacyBox.checked; }

  function say(message, kind, undo) {
    status.textContent = "";
    status.className = "calendar-status flash flash-" + kind;
    var text = document.createElement("span");
    text.textContent = message;
    status.appendChild(text);
    if (undo) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = "Undo";
      button.addEventListener("click", undo);
      status.appendChild(document.createTextNode(" "));
      status.appendChild(button);
    }
    status.hidden = false;
  }

  function move(id, startsAt, deviceId) {
    return fetch("/schedule/appointments/" + id + "/move.json", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify({starts_at: startsAt, device_id: deviceId})
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    });
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function wallClock(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":00";
  }

  function onDrop(info) {
    var resource = info.newResource || info.oldResource;
    var deviceId = resource ? resource.id : info.event.resourceIds[0];
    move(info.event.id, wallClock(info.event.start), deviceId).then(function (answer) {
      if (!answer.ok) {
        info.revert();
        say(answer.body.error ? answer.body.error.message : "The move was refused.", "error");
        return;
      }
      var previous = answer.body.previous;
      say(answer.body.message, "success", function () {
        move(info.event.id, previous.starts_at, previous.device_id).then(function (back) {
          if (back.ok) { say("Move undone.", "info"); } else {
            say(back.body.error ? back.body.error.message : "Undo was refused.", "error");
          }
          calendar.refetchEvents();
        });
      });
    }).catch(function () {
      info.revert();
      say("The server did not answer; nothing was moved.", "error");
    });
  }

  var spriteMeta = document.querySelector('meta[name="icon-sprite"]');
  var SVG = "http://www.w3.org/2000/svg";

  /* A decorative icon from the vendored sprite before a button's label (as ui.icon). */
  function withIcon(element, name, label) {
    if (spriteMeta && name) {
      var svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("class", "icon");
      svg.setAttribute("aria-hidden", "true");
      svg.setAttribute("focusable", "false");
      var use = document.createElementNS(SVG, "use");
      use.setAttribute("href", spriteMeta.getAttribute("content") + "#" + name);
      svg.appendChild(use);
      element.appendChild(svg);
    }
    element.appendChild(document.createTextNode(label));
    return element;
  }

  function actionForm(action, label, extra, question, icon) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = action;
    form.className = "inline-form";
    var fields = {csrf_token: csrf, next: window.location.pathname + window.location.search};
    Object.keys(extra || {}).forEach(function (k) { fields[k] = extra[k]; });
    Object.keys(fields).forEach(function (name) {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = fields[name];
      form.appendChild(input);
    });
    var button = document.createElement("button");
    button.type = "submit";
    button.className = "secondary";
    withIcon(button, icon, label);
    if (question) { button.setAttribute("data-confirm", question); }
    form.appendChild(button);
    return form;
  }

  function link(href, label, icon) {
    var a = document.createElement("a");
    a.href = href;
    withIcon(a, icon, label);
    a.setAttribute("role", "button");
    a.className = "secondary outline";
    return a;
  }

  function openMenu(info) {
    var props = info.event.extendedProps;
    var body = menu.querySelector(".session-menu-body");
    body.textContent = "";
    var title = menu.querySelector("h2");
    title.textContent = (privacy() ? props.initials : info.event.title) + " · " + props.session;
    var actions = [link(props.chart_url, "Open chart", "users")];
    if (props.check_in_url) {
      actions.push(actionForm(props.check_in_url, "Check in", {}, null, "log-in"));
    }
    if (props.move_url) { actions.push(link(props.move_url, "Move…", "arrow-right-left")); }
    if (props.cancel_url) {
      actions.push(actionForm(props.cancel_url, "Cancel session", {},
        "Cancel this session? A make-up session is booked after the course's last one.", "x"));
      actions.push(actionForm(props.cancel_url, "No-show", {no_show: "y"},
        "Record a no-show? A make-up session is booked after the course's last one.", "x"));
    }
    actions.forEach(function (el) { body.appendChild(el); });
    menu.showModal();
  }

  function content(info) {
    var props = info.event.extendedProps;
    var name = privacy() ? props.initials : info.event.title;
    var detail = info.timeText + " · " + props.session + " · " + props.status.replace("_", " ");
    return {html: "<strong>" + escapeHtml(name) + "</strong> <small>" + escapeHtml(detail) +
      "</small>"};
  }

  function escapeHtml(text) {
    var div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  if (privacyBox) {
    privacyBox.checked = window.localStorage.getItem(PRIVACY_KEY) === "1";
    privacyBox.addEventListener("change", function () {
      window.localStorage.setItem(PRIVACY_KEY, privacyBox.checked ? "1" : "0");
      if (calendar) { calendar.refetchEvents(); }
    });
  }
  menu.querySelector("[data-close]").addEventListener("click", function () { menu.close(); });

  calendar = EventCalendar.create(root, {
    view: days === "7" ? "resourceTimeGridWeek" : "resourceTimeGridDay",
    date: root.getAttribute("data-date"),
    headerToolbar: {start: "", center: "", end: ""},
    firstDay: 1,
    hiddenDays: (root.getAttribute("data-hidden-days") || "").split(",").filter(Boolean)
      .map(Number),
    allDaySlot: false,
    slotMinTime: root.getAttribute("data-opens") || "07:00",
    slotMaxTime: root.getAttribute("data-closes") || "20:00",
    slotDuration: "00:15",
    slotLabelFormat: {hour: "2-digit", minute: "2-digit", hour12: false},
    eventTimeFormat: {hour: "2-digit", minute: "2-digit", hour12: false},
    height: "auto",
    nowIndicator: true,
    editable: true,
    eventDurationEditable: false,
    resources: [],
    eventSources: [{
      events: function (fetchInfo, success, failure) {
        fetch(feedUrl, {credentials: "same-origin"}).then(function (r) { return r.json(); })
          .then(function (data) {
            calendar.setOption("resources", data.resources);
            success(data.events);
          }).catch(failure);
      }
    }],
    eventContent: content,
    eventDrop: onDrop,
    eventClick: function (info) { openMenu(info); }
  });
  // EventCalendar marks its grid up as an ARIA table whose rows hold landmarks and
  // toolbars (axe: aria-required-children, critical). The grid is a drawing for the
  // mouse; the same sessions stay reachable as the table below ("Table view") and each
  // session as a button. So the grid's table roles are dropped as it renders.
  var GRID_ROLES = ["table", "rowgroup", "row", "cell", "columnheader", "rowheader"];
  var GRID_ATTRIBUTES = ["aria-colindex", "aria-colspan", "aria-rowindex", "aria-rowspan"];
  function flatten(node) {
    if (!(node instanceof Element)) { return; }
    [node].concat(Array.prototype.slice.call(node.querySelectorAll("*"))).forEach(function (el) {
      if (GRID_ROLES.indexOf(el.getAttribute("role")) >= 0) { el.removeAttribute("role"); }
      GRID_ATTRIBUTES.forEach(function (name) {
        if (el.hasAttribute(name)) { el.removeAttribute(name); }
      });
    });
  }
  flatten(root);
  new MutationObserver(function (changes) {
    changes.forEach(function (change) {
      Array.prototype.forEach.call(change.addedNodes, flatten);
      if (change.type === "attributes") { flatten(change.target); }
    });
  }).observe(root, {childList: true, subtree: true, attributes: true, attributeFilter: ["role"].concat(GRID_ATTRIBUTES)});

  var tableToggle = document.getElementById("table-view");
  if (tableToggle) {
    tableToggle.hidden = false;
    tableToggle.addEventListener("click", function () {
      var showTable = fallback.hidden;
      fallback.hidden = !showTable;
      root.hidden = showTable;
      tableToggle.setAttribute("aria-pressed", showTable ? "true" : "false");
    });
  }
  if (fallback) { fallback.hidden = true; }
  root.hidden = false;
})();
