/* lfx-cal page script: times in the viewer's zone, the next deadline of the chosen role,
   live countdowns (states as in feeds/meaning.py), the role filter and subscribe links. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("lfx-data").textContent);
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var instantFormat = new Intl.DateTimeFormat(undefined, {
    weekday: "short", year: "numeric", month: "short", day: "numeric",
    hour: "numeric", minute: "2-digit", timeZoneName: "short"
  });
  var dateFormat = new Intl.DateTimeFormat(undefined, {
    weekday: "short", year: "numeric", month: "short", day: "numeric", timeZone: "UTC"
  });
  var stampFormat = new Intl.DateTimeFormat("en-US", {
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });
  var past = document.getElementById("past-list");
  var nextList = document.getElementById("next-list");
  var onlyRole = document.getElementById("only-role");
  var STORE = "lfx-cal-role";
  var role = data.defaultRole;

  function stamp(date) {
    var p = {};
    stampFormat.formatToParts(date).forEach(function (part) { p[part.type] = part.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }

  function showTimes(root) {
    root.querySelectorAll("time[data-kind]").forEach(function (el) {
      var iso = el.getAttribute("datetime");
      if (el.getAttribute("data-kind") === "instant") {
        var when = new Date(iso);
        el.textContent = instantFormat.format(when);
        el.setAttribute("data-local", stamp(when));
        el.title = iso.replace("T", " ").replace(":00Z", " UTC");
      } else {
        el.textContent = dateFormat.format(new Date(iso + "T00:00:00Z"));
        el.setAttribute("data-local", iso);
      }
    });
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function remaining(ms) {
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    return (d ? d + "d " : "") + two(h) + "h " + two(m) + "m " + two(s) + "s";
  }

  function sameDay(a, b) { return stamp(new Date(a)).slice(0, 10) === stamp(new Date(b)).slice(0, 10); }

  /* The state of a row at `now` (feeds/meaning.py): a period "opens in" until it opens, then
     "closes in"; a deadline "closes in"; an informational day counts down to its start and
     reads "today" all day; then "passed". data-until: when the row is passed. */
  function label(el, now) {
    var until = Date.parse(el.getAttribute("data-until"));
    var at = Date.parse(el.getAttribute("data-at") || el.getAttribute("data-until"));
    var opens = el.hasAttribute("data-opens") ? Date.parse(el.getAttribute("data-opens")) : null;
    var kind = el.getAttribute("data-kind");
    if (now >= until) { return "passed"; }
    if (kind === "info") {
      if (opens !== null && now >= opens) { return "today"; }
      return "in " + remaining((opens !== null ? opens : at) - now);
    }
    if (kind === "period" && opens !== null && now < opens) {
      return "opens in " + remaining(opens - now);
    }
    var left = Math.max(at, now) - now;
    return "closes " + (sameDay(at, now) ? "today, " : "") + "in " + remaining(left);
  }

  function moveNow(svg, now) {
    var t0 = Number(svg.getAttribute("data-t0")), t1 = Number(svg.getAttribute("data-t1"));
    var x0 = Number(svg.getAttribute("data-x0")), x1 = Number(svg.getAttribute("data-x1"));
    var group = svg.querySelector(".now");
    if (now < t0 || now > t1) { group.setAttribute("visibility", "hidden"); return; }
    var x = (x0 + (now - t0) / (t1 - t0) * (x1 - x0)).toFixed(1);
    var line = group.querySelector("line"), text = group.querySelector("text");
    line.setAttribute("x1", x); line.setAttribute("x2", x);
    text.setAttribute("x", (Number(x) + 3).toFixed(1));
    group.setAttribute("visibility", "visible");
  }

  function upcomingItems() {
    return Array.prototype.slice.call(document.querySelectorAll(".upcoming-list > li.deadline"));
  }

  function mine(item) {
    return (" " + item.getAttribute("data-roles") + " ").indexOf(" " + role + " ") >= 0;
  }

  /* The next deadline of the role: the soonest-passed deadline or period, else any row. */
  function pickNext() {
    var items = upcomingItems().map(function (item, index) { return [item, index]; });
    items.sort(function (a, b) {
      var x = a[0].getAttribute("data-until"), y = b[0].getAttribute("data-until");
      return x < y ? -1 : (x > y ? 1 : a[1] - b[1]);
    });
    var chosen = null, fallback = null;
    items.forEach(function (pair) {
      var item = pair[0];
      if (!mine(item)) { return; }
      if (!fallback) { fallback = item; }
      if (!chosen && item.getAttribute("data-kind") !== "info") { chosen = item; }
    });
    chosen = chosen || fallback;
    var current = nextList.firstElementChild;
    var uid = chosen ? chosen.getAttribute("data-uid") : null;
    if (!current || !uid || current.getAttribute("data-uid") !== uid) {
      nextList.textContent = "";
      if (chosen) {
        var card = chosen.cloneNode(true);
        card.hidden = false;
        nextList.appendChild(card);
      }
    }
    document.getElementById("next-none").hidden = Boolean(chosen);
  }

  function filter() {
    var items = upcomingItems();
    var shown = 0;
    items.forEach(function (item) {
      item.hidden = onlyRole.checked && !mine(item);
      if (!item.hidden) { shown += 1; }
    });
    document.querySelectorAll(".term-group").forEach(function (group) {
      group.hidden = !group.querySelector(".upcoming-list > li.deadline:not([hidden])");
    });
    document.getElementById("upcoming-empty").hidden = items.length > 0;
    document.getElementById("role-empty").hidden = items.length === 0 || shown > 0;
  }

  function tick() {
    var now = Date.now();
    var moved = false;
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      var text = label(el, now);
      if (el.textContent !== text) { el.textContent = text; }
      if (text !== "passed") { return; }
      var item = el.closest(".deadline");
      item.classList.add("past");
      if (item.parentNode.classList.contains("upcoming-list")) {
        item.hidden = false;
        past.insertBefore(item, past.firstChild);
        past.parentNode.hidden = false;
        moved = true;
      }
    });
    if (moved || !nextList.firstElementChild || nextList.querySelector(".past")) {
      pickNext();
      filter();
    }
    document.querySelectorAll("svg.timeline").forEach(function (svg) { moveNow(svg, now); });
  }

  function chooseRole(value, remember) {
    role = Object.prototype.hasOwnProperty.call(data.roles, value) ? value : data.defaultRole;
    document.querySelectorAll("#roles input[name=role]").forEach(function (input) {
      input.checked = input.value === role;
    });
    var name = data.roleText[role] || role;
    document.getElementById("next-role").textContent = name;
    document.querySelectorAll(".role-name").forEach(function (el) { el.textContent = name; });
    document.querySelectorAll("#role-feed a[data-link]").forEach(function (a) {
      a.setAttribute("data-path", (data.static ? "feeds/" : "/feeds/") + role + ".ics");
      a.setAttribute("data-name", data.roleFeeds[role] || role);
      fill(a);
    });
    if (remember) {
      try { window.localStorage.setItem(STORE, role); } catch (e) { /* storage disabled */ }
      try {
        var url = new URL(window.location.href);
        url.searchParams.set("role", role);
        window.history.replaceState(null, "", url.href);
      } catch (e) { /* a file: page may refuse */ }
    }
    pickNext();
    filter();
    tick();
  }

  function startRole() {
    var asked = null;
    try { asked = new URL(window.location.href).searchParams.get("role"); } catch (e) { asked = null; }
    if (!asked) {
      try { asked = window.localStorage.getItem(STORE); } catch (e) { asked = null; }
    }
    document.getElementById("roles").hidden = false;
    document.getElementById("role-filter").hidden = false;
    document.querySelectorAll("#roles input[name=role]").forEach(function (input) {
      input.addEventListener("change", function () { if (input.checked) { chooseRole(input.value, true); } });
    });
    onlyRole.addEventListener("change", filter);
    chooseRole(asked || data.defaultRole, Boolean(asked));
  }

  function links(address, name) {
    var webcal = address.replace(/^https?:/, "webcal:");
    return {
      webcal: webcal,
      google: "https://calendar.google.com/calendar/render?cid=" + encodeURIComponent(webcal),
      outlook: "https://outlook.live.com/calendar/0/addfromweb?url=" +
        encodeURIComponent(address) + "&name=" + encodeURIComponent(name),
      download: address
    };
  }

  function fill(a) {
    var address = new URL(a.getAttribute("data-path"), data.base || window.location.href).href;
    a.href = links(address, a.getAttribute("data-name"))[a.getAttribute("data-link")];
  }

  var pickFeed = document.getElementById("pick-feed");
  var pickAlarms = document.getElementById("pick-alarms");
  var boxes = document.querySelectorAll("#pick-categories input[name=category]");

  /* Alarms go on the webcal and download links only: Google and Outlook ignore them. */
  function picked() {
    var option = pickFeed.options[pickFeed.selectedIndex];
    var feedRole = data.roles[pickFeed.value];
    var enabled = 0, chosen = [], query = [];
    boxes.forEach(function (box) {
      box.disabled = Boolean(feedRole) && feedRole.indexOf(box.value) < 0;
      if (!box.disabled) { enabled += 1; }
      if (box.checked && !box.disabled) { chosen.push(box.value); }
    });
    var name = option.getAttribute("data-label");
    if (chosen.length && chosen.length < enabled) {
      chosen.sort();
      chosen.forEach(function (c) { query.push("category=" + encodeURIComponent(c)); });
      name += " – " + chosen.join(", ");
    }
    var plain = query.slice();
    if (pickAlarms && pickAlarms.value) { query.push("alarms=" + pickAlarms.value); }
    var path = (data.static ? "feeds/" : "/feeds/") + encodeURIComponent(pickFeed.value) + ".ics";
    var withAlarms = path + (query.length ? "?" + query.join("&") : "");
    var without = path + (plain.length ? "?" + plain.join("&") : "");
    document.querySelectorAll("#picked a[data-link]").forEach(function (a) {
      var kind = a.getAttribute("data-link");
      a.setAttribute("data-path", kind === "webcal" || kind === "download" ? withAlarms : without);
      a.setAttribute("data-name", name);
      fill(a);
    });
    document.getElementById("picked-url").textContent =
      new URL(withAlarms, data.base || window.location.href).href;
  }

  /* A role preset picks the named role feed (/feeds/mentor.ics), not a list of categories. */
  document.querySelectorAll("#picker button[data-role]").forEach(function (button) {
    button.addEventListener("click", function () {
      var preset = button.getAttribute("data-role");
      if (preset) { pickFeed.value = preset; }
      boxes.forEach(function (box) { box.checked = false; });
      picked();
    });
  });
  document.getElementById("picker").addEventListener("change", picked);
  document.getElementById("picker").addEventListener("submit", function (e) { e.preventDefault(); });

  if (window.location.protocol === "file:" && !data.base) {
    var warning = document.getElementById("file-warning");
    if (warning) { warning.hidden = false; }
  }
  document.getElementById("viewer-zone").textContent = zone;
  showTimes(document);
  document.querySelectorAll("a[data-link]").forEach(fill);
  picked();
  startRole();
  window.setInterval(tick, 1000);
}());
