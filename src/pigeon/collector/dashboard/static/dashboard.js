/* pigeon dashboard: fetches the stats API with the session cookie and draws it.
 *
 * Everything comes from this collector: the numbers (/api/v1/stats/*) and the
 * chart library (Chart.js, shipped in the package). Text from the data goes
 * into the page with textContent only, never as HTML: versions and user-agent
 * families are chosen by clients.
 */
(function () {
  "use strict";

  var VIEWS = ["overview", "installs", "events", "versions", "adoption", "python", "systems",
    "errors", "release_health", "bulk", "trainer", "clients", "languages"];
  var PALETTE = ["#3b5bdb", "#f08c00", "#2f9e44", "#e03131", "#7048e8", "#1098ad",
    "#d6336c", "#74b816", "#5c7cfa", "#fab005", "#868e96"];
  var OTHER_COLOR = "#adb5bd";
  var main = document.getElementById("main");
  var minInstalls = Number(main.dataset.minInstalls);
  var hidden = "< " + minInstalls;
  var numbers = new Intl.NumberFormat("en-US");
  var charts = {};
  var state = { days: "30", from: "", to: "", app: "" };
  var loading = 0;

  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#475467";
  Chart.defaults.plugins.legend.labels.boxWidth = 10;
  Chart.defaults.plugins.legend.labels.boxHeight = 10;
  Chart.defaults.maintainAspectRatio = false;

  function color(series, index) {
    return series.value === "other" ? OTHER_COLOR : PALETTE[index % PALETTE.length];
  }

  function fmt(value) {
    return value === null || value === undefined ? hidden : numbers.format(value);
  }

  function fmtRate(value) {
    return value === null || value === undefined ? hidden : value.toFixed(2);
  }

  /* A table of plain rows; cells are text (strings) or nodes, numbers right-aligned. */
  function plainTable(id, headers, rows) {
    var table = document.getElementById("table-" + id);
    table.replaceChildren();
    var head = table.createTHead().insertRow();
    headers.forEach(function (title, i) {
      var th = document.createElement("th");
      th.textContent = title.replace(/^#/, "");
      if (title.charAt(0) === "#") { th.className = "num"; }
      head.appendChild(th);
    });
    var body = table.createTBody();
    rows.forEach(function (cells) {
      var tr = body.insertRow();
      cells.forEach(function (cell, i) {
        var td = tr.insertCell();
        if (typeof cell === "string") { td.textContent = cell; } else { td.appendChild(cell); }
        if (headers[i].charAt(0) === "#") { td.className = "num"; }
      });
    });
  }

  function badge(status) {
    var span = document.createElement("span");
    span.className = "badge badge-" + status;
    span.textContent = status;
    return span;
  }

  function stackOf(frames) {
    if (!frames) { return document.createTextNode(hidden); }
    var details = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = frames.length + " frames";
    var pre = document.createElement("pre");
    pre.textContent = frames.join("\n");
    details.append(summary, pre);
    return details;
  }

  function query() {
    var params = new URLSearchParams();
    if (state.from || state.to) {
      if (state.from) { params.set("from", state.from); }
      if (state.to) { params.set("to", state.to); }
    } else {
      params.set("days", state.days);
    }
    if (state.app) { params.set("app", state.app); }
    return params.toString();
  }

  function fetchView(view) {
    return fetch("/api/v1/stats/" + view + "?" + query(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (response.status === 401) {
        window.location.assign("/");
        throw new Error("the session ended; please sign in again");
      }
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.message || response.statusText); }
        return body;
      });
    });
  }

  /* ---- drawing ---- */

  function draw(id, config) {
    var canvas = document.getElementById("chart-" + id);
    var card = canvas.closest(".card");
    var hasData = config.data.datasets.some(function (set) { return hasPoints(set.data); });
    card.classList.toggle("empty", !hasData);
    ensureEmptyNote(card);
    if (charts[id]) { charts[id].destroy(); }
    charts[id] = new Chart(canvas, config);
  }

  function ensureEmptyNote(card) {
    if (card.querySelector(".empty-note")) { return; }
    var note = document.createElement("p");
    note.className = "empty-note";
    note.textContent = "No data to show for this range (or every bucket is under the threshold).";
    card.insertBefore(note, card.querySelector(".chart-box"));
  }

  function dayLabels(days) {
    return days.map(function (day) { return day.slice(5); });
  }

  function hasPoints(values) {
    return values.some(function (v) { return v !== null && v !== 0; });
  }

  function trendChart(id, trend, kind, stacked) {
    // A series with nothing to draw ("other" when every merged cell is hidden) only
    // clutters the legend.
    var shown = trend.series.filter(function (series) { return hasPoints(series.data); });
    var datasets = shown.map(function (series, i) {
      var c = color(series, i);
      return {
        label: series.label,
        data: series.data,
        borderColor: c,
        backgroundColor: kind === "line" && stacked ? c + "99" : c,
        // Stacked areas fill down to the series below, not to zero.
        fill: kind === "line" && stacked ? (i === 0 ? "origin" : "-1") : false,
        pointRadius: 0,
        borderWidth: kind === "line" ? 2 : 0,
        tension: 0.25,
      };
    });
    draw(id, {
      type: kind,
      data: { labels: dayLabels(trend.days), datasets: datasets },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: stacked, grid: { display: false } },
          y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: tooltip } } },
      },
    });
  }

  function tooltip(item) {
    return " " + item.dataset.label + ": " + fmt(item.raw);
  }

  function barChart(id, rows, metric, horizontal) {
    var c = rows.map(function (row, i) { return color(row, i); });
    draw(id, {
      type: "bar",
      data: {
        labels: rows.map(function (row) { return row.label; }),
        datasets: [{ label: metric, data: rows.map(function (row) { return row[metric]; }), backgroundColor: c }],
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true } },
        plugins: { legend: { display: false }, tooltip: { callbacks: { label: tooltip } } },
      },
    });
  }

  function doughnut(id, rows) {
    draw(id, {
      type: "doughnut",
      data: {
        labels: rows.map(function (row) { return row.label; }),
        datasets: [{
          label: "installs",
          data: rows.map(function (row) { return row.installs; }),
          backgroundColor: rows.map(function (row, i) { return color(row, i); }),
          borderWidth: 1,
        }],
      },
      options: { cutout: "55%", plugins: { legend: { position: "right" }, tooltip: { callbacks: { label: tooltip } } } },
    });
  }

  function fillTable(id, columns, rows, limit) {
    var table = document.getElementById("table-" + id);
    table.replaceChildren();
    var head = table.createTHead().insertRow();
    columns.forEach(function (col) {
      var th = document.createElement("th");
      th.textContent = col.title;
      if (col.num) { th.className = "num"; }
      head.appendChild(th);
    });
    var body = table.createTBody();
    rows.slice(0, limit || 50).forEach(function (row, i) {
      var tr = body.insertRow();
      if (row.merged) { tr.className = "merged"; }
      columns.forEach(function (col, c) {
        var td = tr.insertCell();
        var value = row[col.key];
        if (c === 0 && !col.num) {
          var swatch = document.createElement("span");
          swatch.className = "swatch";
          swatch.style.background = color(row, i);
          td.appendChild(swatch);
        }
        var text = col.rate ? fmtRate(value) : col.num ? fmt(value) : String(value || "—");
        td.appendChild(document.createTextNode(text));
        if (col.num) { td.className = "num"; }
        if (col.code) { td.className = "code"; }
      });
    });
  }

  var COUNT_COLUMNS = [{ title: "installs", key: "installs", num: true }, { title: "events", key: "events", num: true }];

  function named(title) { return [{ title: title, key: "label" }].concat(COUNT_COLUMNS); }

  /* ---- adoption ---- */

  function percentOf(share) {
    return share === null ? null : Math.round(share * 1000) / 10;
  }

  function renderUpgrades(upgrades) {
    var datasets = upgrades.series
      .map(function (series) { return { series: series, data: series.share.map(percentOf) }; })
      .filter(function (set) { return hasPoints(set.data); })
      .map(function (set, i) {
        var c = color(set.series, i);
        return { label: set.series.label, data: set.data, borderColor: c, backgroundColor: c,
          fill: false, pointRadius: 2, borderWidth: 2, tension: 0.25, spanGaps: true };
      });
    draw("adoption", {
      type: "line",
      data: { labels: dayLabels(upgrades.days), datasets: datasets },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: { x: { grid: { display: false } }, y: { beginAtZero: true, max: 100, title: { display: true, text: "%" } } },
        plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: function (item) {
          return " " + item.dataset.label + ": " + (item.raw === null ? hidden : item.raw + " %");
        } } } },
      },
    });
    var rows = upgrades.versions.map(function (v) {
      return { label: v.label, value: v.value, installs: v.installs, first_seen: v.first_seen || "before the look-back",
        days_to_half: v.days_to_half === null ? "not yet" : String(v.days_to_half) };
    });
    fillTable("upgrades", [{ title: "version", key: "label" }, { title: "first seen", key: "first_seen" },
      { title: "days to 50%", key: "days_to_half" }, { title: "installs", key: "installs", num: true }], rows, 12);
  }

  function renderRetention(cohorts) {
    var table = document.getElementById("table-retention");
    table.replaceChildren();
    var width = cohorts.rows.reduce(function (n, row) { return Math.max(n, row.active.length); }, 0);
    var head = table.createTHead().insertRow();
    ["week of", "installs"].concat(Array.from({ length: width }, function (_, n) { return "w" + n; }))
      .forEach(function (title, i) {
        var th = document.createElement("th");
        th.textContent = title;
        if (i > 0) { th.className = "num"; }
        head.appendChild(th);
      });
    var body = table.createTBody();
    cohorts.rows.forEach(function (row) {
      var tr = body.insertRow();
      tr.insertCell().textContent = row.week;
      var size = tr.insertCell();
      size.className = "num";
      size.textContent = fmt(row.size);
      row.active.forEach(function (count, n) {
        var td = tr.insertCell();
        var percent = row.percent[n];
        td.className = "num cohort-cell";
        td.title = fmt(count) + " installs";
        td.textContent = count === null ? hidden : (percent === null ? "—" : percent + " %");
        if (percent !== null) {
          td.dataset.percent = String(percent);
          td.style.backgroundColor = "rgba(59, 91, 219, " + (0.08 + 0.72 * percent / 100).toFixed(3) + ")";
          if (percent >= 55) { td.style.color = "#fff"; }
        }
      });
    });
  }

  /* ---- views ---- */

  var RENDER = {
    overview: function (body) {
      Object.keys(body.installs).forEach(function (key) {
        document.getElementById("kpi-" + key).textContent = fmt(body.installs[key]);
      });
      document.getElementById("kpi-events").textContent = fmt(body.events);
      var select = document.getElementById("app");
      var known = Array.prototype.map.call(select.options, function (o) { return o.value; });
      body.apps.forEach(function (app) {
        if (known.indexOf(app) < 0) { select.add(new Option(app, app)); }
      });
      select.value = state.app;
    },
    installs: function (body) {
      draw("installs", {
        type: "bar",
        data: {
          labels: dayLabels(body.days),
          datasets: [
            { type: "line", label: "active installs", data: body.installs, borderColor: PALETTE[0],
              backgroundColor: PALETTE[0], yAxisID: "y", pointRadius: 2, borderWidth: 2, tension: 0.25 },
            { type: "bar", label: "events", data: body.events, backgroundColor: "#f08c0055", yAxisID: "y1" },
          ],
        },
        options: {
          interaction: { mode: "index", intersect: false },
          scales: {
            x: { grid: { display: false } },
            y: { beginAtZero: true, position: "left", title: { display: true, text: "installs" }, ticks: { precision: 0 } },
            y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "events" } },
          },
          plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: tooltip } } },
        },
      });
    },
    events: function (body) {
      trendChart("events", body.trend, "bar", true);
      fillTable("events", named("event"), body.rows);
    },
    versions: function (body) {
      trendChart("versions", body.trend, "line", true);
      fillTable("versions", named("version"), body.rows, 12);
    },
    adoption: function (body) {
      renderUpgrades(body.upgrades);
      renderRetention(body.cohorts);
    },
    python: function (body) {
      trendChart("python", body.trend, "line", true);
      fillTable("python", named("Python"), body.rows, 12);
    },
    systems: function (body) {
      doughnut("systems", body.systems.rows);
      fillTable("systems", named("system"), body.systems.rows);
      doughnut("machines", body.machines.rows);
      fillTable("machines", named("machine"), body.machines.rows);
    },
    errors: function (body) {
      trendChart("errors", body.trend, "bar", true);
      fillTable("errors", [{ title: "error code", key: "code", code: true }, { title: "entity type", key: "type" }]
        .concat([{ title: "events", key: "events", num: true }, { title: "installs", key: "installs", num: true }]),
        body.rows, 15);
    },
    release_health: function (body) {
      fillTable("release-versions", [{ title: "version", key: "version" },
        { title: "installs", key: "installs", num: true },
        { title: "error rate", key: "error_rate", num: true, rate: true },
        { title: "crash rate", key: "crash_rate", num: true, rate: true }], body.versions);
      var comparison = body.comparison;
      var title = document.getElementById("release-comparison-title");
      title.textContent = comparison ? "Latest " + comparison.latest + " vs previous " + comparison.previous
        : "No two versions with enough installs to compare";
      var rows = [];
      if (comparison) {
        [["error", comparison.errors], ["crash", comparison.crashes]].forEach(function (pair) {
          pair[1].forEach(function (change) {
            rows.push([pair[0], change.label || (change.signature + " " + change.exception), badge(change.status),
              fmtRate(change.previous && change.previous.rate), fmtRate(change.latest && change.latest.rate),
              change.ratio === null ? "—" : change.ratio.toFixed(2) + "×"]);
          });
        });
      }
      plainTable("release-comparison", ["kind", "problem", "status", "#previous rate", "#latest rate", "#ratio"], rows);
      // The view lists the most severe changes of each kind; the export has every one.
      var cut = comparison && (comparison.more.errors || comparison.more.crashes);
      document.getElementById("release-comparison-more").textContent = cut
        ? "The " + comparison.limit + " most severe changes of each kind; the export lists them all." : "";
      plainTable("crashes", ["signature", "exception", "#installs", "#events", "versions", "stack"],
        body.top_crashes.map(function (crash) {
          return [crash.signature, crash.exception || "—", fmt(crash.installs), fmt(crash.events),
            crash.versions.join(", ") || "—", stackOf(crash.stack)];
        }));
    },
    bulk: function (body) {
      trendChart("bulk", body.trend, "bar", true);
      fillTable("bulk", [{ title: "task", key: "label" }, { title: "records", key: "records", num: true },
        { title: "uploads", key: "events", num: true }, { title: "installs", key: "installs", num: true }], body.rows);
    },
    trainer: function (body) {
      barChart("trainer", body.trainer.rows, "events", true);
      fillTable("trainer", [{ title: "framework", key: "framework" }, { title: "task", key: "task" },
        { title: "runs", key: "events", num: true }, { title: "installs", key: "installs", num: true }], body.trainer.rows);
    },
    clients: function (body) {
      barChart("clients", body.clients.rows, "installs", true);
      fillTable("clients", named("client"), body.clients.rows);
    },
    languages: function (body) {
      barChart("languages", body.languages.rows, "installs", true);
      fillTable("languages", named("language"), body.languages.rows);
    },
  };

  /* ---- alerts (not a stats view: the history of every app and time) ---- */

  function fetchAlerts() {
    return fetch("/api/v1/alerts", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { configured: false, alerts: [] }; })
      .catch(function () { return { configured: false, alerts: [] }; });
  }

  function alertNumbers(numbers) {
    return Object.keys(numbers).filter(function (key) { return numbers[key] !== null; })
      .map(function (key) { return key.replace(/_/g, " ") + " " + numbers[key]; }).join(" · ");
  }

  function renderAlerts(body) {
    document.getElementById("alerts-note").textContent = !body.configured ? "No alert rules configured."
      : body.alerts.length ? "" : "No alert raised yet.";
    var rows = body.alerts.map(function (alert) {
      return {
        time: new Date(alert.time_ms).toISOString().slice(0, 16).replace("T", " "),
        rule: alert.rule + " (" + alert.kind + ")", app: alert.app, what: alert.what, version: alert.version,
        problem: Object.keys(alert.problem).map(function (k) { return alert.problem[k]; }).filter(Boolean).join(" "),
        numbers: alertNumbers(alert.numbers),
        delivery: alert.deliveries.map(function (d) { return d.webhook + ": " + d.status; }).join(", "),
        value: "",
      };
    });
    fillTable("alerts", ["time", "rule", "app", "what", "version", "problem", "numbers", "delivery"]
      .map(function (key) { return { title: key, key: key, code: key === "problem" }; }), rows);
  }

  /* ---- state ---- */

  function setStatus(text, failed) {
    var status = document.getElementById("status");
    status.textContent = text;
    status.classList.toggle("failed", Boolean(failed));
  }

  function syncControls() {
    Array.prototype.forEach.call(document.querySelectorAll(".range"), function (button) {
      button.classList.toggle("active", !state.from && !state.to && button.dataset.days === state.days);
    });
    document.getElementById("from").value = state.from;
    document.getElementById("to").value = state.to;
  }

  function load() {
    var ticket = ++loading;
    syncControls();
    setStatus("Loading…");
    window.history.replaceState(null, "", "#" + query());
    Promise.all(VIEWS.map(fetchView).concat([fetchAlerts()])).then(function (bodies) {
      if (ticket !== loading) { return; }
      renderAlerts(bodies.pop());
      bodies.forEach(function (body, i) { RENDER[VIEWS[i]](body); });
      var range = bodies[0].range;
      if (!state.from && !state.to) {
        // Show the range the buttons picked, as a starting point for from/to.
        document.getElementById("from").value = range.from;
        document.getElementById("to").value = range.to;
      }
      setStatus((state.app || "All apps") + " · " + range.from + " to " + range.to + " (" + range.days +
        " days, UTC) · buckets seen by fewer than " + minInstalls + " installs are merged into “other”");
      document.body.dataset.loaded = range.from + "/" + range.to + "/" + (state.app || "");
    }).catch(function (error) {
      if (ticket === loading) { setStatus("Could not load the stats: " + error.message, true); }
    });
  }

  function readHash() {
    var params = new URLSearchParams(window.location.hash.slice(1));
    state.days = params.get("days") || "30";
    state.from = params.get("from") || "";
    state.to = params.get("to") || "";
    state.app = params.get("app") || "";
  }

  Array.prototype.forEach.call(document.querySelectorAll(".range"), function (button) {
    button.addEventListener("click", function () {
      state.days = button.dataset.days;
      state.from = "";
      state.to = "";
      load();
    });
  });
  document.getElementById("filters").addEventListener("submit", function (event) {
    event.preventDefault();
    state.from = document.getElementById("from").value;
    state.to = document.getElementById("to").value;
    load();
  });
  document.getElementById("app").addEventListener("change", function (event) {
    state.app = event.target.value;
    load();
  });

  readHash();
  load();
})();
