// Read iCalendar files with Mozilla's ical.js (Thunderbird's parser) and print, as JSON,
// what a client sees: for each VEVENT its UID, SUMMARY, whether it is all-day, the days
// (from the JS Date in the host's own zone, as a client shows them) or UTC instants,
// its length, TRANSP and X-MICROSOFT-CDO-BUSYSTATUS. Usage: node read.mjs FILE...
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

function pad(n) { return String(n).padStart(2, "0"); }

function localDay(time) {
  const d = time.toJSDate(); // a floating DATE becomes local midnight of the host zone
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

function instant(time) {
  return time.toJSDate().toISOString().replace(".000Z", "Z");
}

const out = {};
for (const path of process.argv.slice(2)) {
  const root = new ICAL.Component(ICAL.parse(readFileSync(path, "utf8")));
  out[path] = root.getAllSubcomponents("vevent").map((component) => {
    const event = new ICAL.Event(component);
    const allDay = event.startDate.isDate;
    const seen = {
      uid: event.uid,
      summary: event.summary,
      allDay,
      transp: component.getFirstPropertyValue("transp"),
      busy: component.getFirstPropertyValue("x-microsoft-cdo-busystatus"),
    };
    if (allDay) {
      seen.first = localDay(event.startDate);
      const last = event.endDate.clone();
      last.adjust(-1, 0, 0, 0);
      seen.last = localDay(last);
      seen.days = event.endDate.subtractDate(event.startDate).toSeconds() / 86400;
    } else {
      seen.start = instant(event.startDate);
      seen.end = instant(event.endDate);
      seen.seconds = event.endDate.subtractDateTz(event.startDate).toSeconds();
    }
    return seen;
  });
}
process.stdout.write(JSON.stringify(out));
