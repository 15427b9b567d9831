/* lfx-cal page script: times in the viewer's zone, live countdowns, subscribe links. */
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
  var upcoming = document.getElementById("upcoming-list");
  var past = document.getElementById("past-list");
  var empty = document.getElementById("upcoming-empty");

  function stamp(date) {
    var p = {};
    stampFormat.formatToParts(date).forEach(function (part) { p[part.type] = part.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }

  function showTimes() {
    document.getElementById("viewer-zone").textContent = zone;
    document.querySelectorAll("time[data-kind]").forEach(function (el) {
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
    return "in " + (d ? d + "d " : "") + two(h) + "h " + two(m) + "m " + two(s) + "s";
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

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      // data-until: when the row is passed (feeds/meaning.py); data-at: what the countdown
      // counts to (a close, or the start of an informational day, which reads "today").
      var left = Date.parse(el.getAttribute("data-until")) - now;
      var toGo = Date.parse(el.getAttribute("data-at") || el.getAttribute("data-until")) - now;
      var item = el.closest(".deadline");
      if (left > 0 && toGo > 0) { el.textContent = remaining(toGo); return; }
      if (left > 0) { el.textContent = el.hasAttribute("data-today") ? "today" : "now"; return; }
      el.textContent = "passed";
      item.classList.add("past");
      if (item.parentNode === upcoming) {
        past.insertBefore(item, past.firstChild);
        past.parentNode.hidden = false;
      }
    });
    empty.hidden = upcoming.children.length > 0;
    document.querySelectorAll("svg.timeline").forEach(function (svg) { moveNow(svg, now); });
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

  function picked() {
    var option = pickFeed.options[pickFeed.selectedIndex];
    var role = data.roles[pickFeed.value];
    var enabled = 0, chosen = [], query = [];
    boxes.forEach(function (box) {
      box.disabled = Boolean(role) && role.indexOf(box.value) < 0;
      if (!box.disabled) { enabled += 1; }
      if (box.checked && !box.disabled) { chosen.push(box.value); }
    });
    var name = option.getAttribute("data-label");
    if (chosen.length && chosen.length < enabled) {
      chosen.sort();
      chosen.forEach(function (c) { query.push("category=" + encodeURIComponent(c)); });
      name += " – " + chosen.join(", ");
    }
    if (pickAlarms && pickAlarms.value) { query.push("alarms=" + pickAlarms.value); }
    var path = (data.static ? "feeds/" : "/feeds/") + encodeURIComponent(pickFeed.value) +
      ".ics" + (query.length ? "?" + query.join("&") : "");
    document.querySelectorAll("#picked a[data-link]").forEach(function (a) {
      a.setAttribute("data-path", path);
      a.setAttribute("data-name", name);
      fill(a);
    });
    document.getElementById("picked-url").textContent =
      new URL(path, data.base || window.location.href).href;
  }

  document.querySelectorAll("#pick-categories button[data-role]").forEach(function (button) {
    button.addEventListener("click", function () {
      var role = data.roles[button.getAttribute("data-role")] || [];
      boxes.forEach(function (box) { box.checked = role.indexOf(box.value) >= 0; });
      picked();
    });
  });
  document.getElementById("picker").addEventListener("change", picked);
  document.getElementById("picker").addEventListener("submit", function (e) { e.preventDefault(); });

  showTimes();
  document.querySelectorAll("a[data-link]").forEach(fill);
  picked();
  tick();
  window.setInterval(tick, 1000);
}());
