// The playground: asks the gateway's public API (/v1/models, /v1/databases, /v1/databases/{id}/schema,
// /v1/sql) and shows the answer with its trail. Every value from the API is rendered as text, never HTML.
"use strict";

(() => {
  const KEY_STORE = "sqlensemble.apiKey";
  const $ = (id) => document.getElementById(id);
  const highlight = (sql) => window.sqlHighlight.highlight(sql);

  /** An element with a class (optional) and children: strings become text nodes. */
  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, error) {
      super(error.message || `HTTP ${status}`);
      this.status = status;
      this.type = error.type || null;
      this.code = error.code || null;
      this.param = error.param || null;
    }
  }

  /** Call the gateway; resolve to the JSON body, or reject with an ApiError carrying the error shape. */
  async function api(path, body) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = `Bearer ${key}`;
    const init = { method: body === undefined ? "GET" : "POST", headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, { message: `the gateway cannot be reached (${e.message})`, type: "network_error" });
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch (e) {
      payload = null;
    }
    if (!response.ok) {
      const error = payload && payload.error ? payload.error : { message: `HTTP ${response.status}` };
      throw new ApiError(response.status, error);
    }
    return payload;
  }

  // ---- errors and the key ----

  function showError(error) {
    const box = $("error");
    box.replaceChildren();
    box.appendChild(el("strong", null, error.message));
    const details = [
      error.status ? `HTTP ${error.status}` : null,
      error.type,
      error.code ? `code ${error.code}` : null,
      error.param ? `param ${error.param}` : null,
    ].filter(Boolean);
    if (details.length) box.appendChild(el("div", "muted", details.join(" · ")));
    box.hidden = false;
  }

  function clearError() {
    $("error").hidden = true;
    $("error").replaceChildren();
  }

  function askForKey(reason) {
    $("key-reason").textContent = reason;
    $("key-form").hidden = false;
    $("forget-key").hidden = !sessionStorage.getItem(KEY_STORE);
    $("api-key").focus();
  }

  /** Handle a failed call: a 401 asks for a key, anything else is shown. */
  function fail(error) {
    if (error instanceof ApiError && error.status === 401) {
      askForKey(sessionStorage.getItem(KEY_STORE)
        ? `The key was refused: ${error.message}.` : "This gateway needs an API key.");
    } else {
      showError(error);
    }
  }

  // ---- databases, models and the schema ----

  function fillSelect(select, values) {
    const previous = select.value;
    select.replaceChildren(...values.map((v) => el("option", null, v)));
    if (values.includes(previous)) select.value = previous;
  }

  async function loadCatalog() {
    clearError();
    try {
      const [models, databases] = await Promise.all([api("v1/models"), api("v1/databases")]);
      $("key-form").hidden = true;
      $("forget-key").hidden = !sessionStorage.getItem(KEY_STORE);
      fillSelect($("model"), models.data.map((m) => m.id));
      fillSelect($("database"), databases.data.map((d) => d.id));
      if (!databases.data.length) $("schema-status").textContent = "The gateway serves no database.";
      else await loadSchema($("database").value);
      $("question").focus();
    } catch (error) {
      fail(error);
    }
  }

  function renderColumn(column) {
    const item = el("li", null, el("span", "col-name", column.name), " ", el("span", "col-type", column.type));
    if (column.primary_key) item.appendChild(el("span", "badge", "PK"));
    if (column.description) item.appendChild(el("div", "muted", column.description));
    if (column.examples.length) item.appendChild(el("div", "examples", `e.g. ${column.examples.join(", ")}`));
    return item;
  }

  function renderSchema(schema) {
    const box = $("schema");
    box.replaceChildren();
    for (const table of schema.tables) {
      const details = el("details", "table-card",
        el("summary", null, el("span", "table-name", table.name), ` (${table.columns.length} columns)`),
        el("ul", "columns", ...table.columns.map(renderColumn)));
      details.open = schema.tables.length <= 4;
      box.appendChild(details);
    }
    if (schema.foreign_keys.length) {
      box.appendChild(el("h3", null, "Foreign keys"));
      box.appendChild(el("ul", "fks", ...schema.foreign_keys.map((f) =>
        el("li", null, `${f.table}.${f.column} → ${f.ref_table}.${f.ref_column}`))));
    }
  }

  async function loadSchema(dbId) {
    if (!dbId) return;
    $("schema-status").textContent = `Loading ${dbId}…`;
    try {
      const schema = await api(`v1/databases/${encodeURIComponent(dbId)}/schema`);
      if ($("database").value !== dbId) return; // another database was picked meanwhile
      $("schema-status").textContent = `${dbId}: ${plural(schema.tables.length, "table")}`;
      renderSchema(schema);
    } catch (error) {
      $("schema-status").textContent = `No schema for ${dbId}.`;
      $("schema").replaceChildren();
      fail(error);
    }
  }

  // ---- the answer ----

  const percent = (x) => `${(100 * x).toFixed(0)}%`;
  const ms = (x) => (x === null || x === undefined ? "–" : `${Number(x).toFixed(0)} ms`);
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  function cellText(value) {
    if (value === null) return el("span", "null", "NULL");
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function renderResult(result) {
    const section = el("section", "panel", el("h3", null, "Result"));
    if (!result) {
      section.appendChild(el("p", "muted", "No result: no candidate ran successfully."));
      return section;
    }
    const notes = [plural(result.row_count, "row")];
    if (result.truncated) notes.push(`truncated at the gateway's row cap: only the first ${result.row_count} rows were read`);
    if (result.rows.length < result.row_count) notes.push("rows not returned (the gateway's return_rows is off)");
    const table = el("table", "result",
      el("thead", null, el("tr", null, ...result.columns.map((c) => el("th", null, c)))),
      el("tbody", null, ...result.rows.map((row) => el("tr", null, ...row.map((v) => el("td", null, cellText(v)))))));
    section.appendChild(el("p", result.truncated ? "note warn" : "note", notes.join(" · ")));
    section.appendChild(el("div", "scroll", table));
    return section;
  }

  function statusBadge(status) {
    return el("span", `badge status-${status}`, status);
  }

  function renderCandidate(c) {
    const head = el("div", "cand-head", el("span", "cand-name", `${c.generator} #${c.index}`), " ", statusBadge(c.status));
    if (c.row_count !== null) head.appendChild(el("span", "muted", ` ${plural(c.row_count, "row")}`));
    if (c.exec_ms !== null) head.appendChild(el("span", "muted", ` · ${ms(c.exec_ms)}`));
    const item = el("li", "candidate", head);
    if (c.sql) item.appendChild(el("pre", null, highlight(c.sql)));
    else if (c.raw) item.appendChild(el("pre", "raw", c.raw));
    if (c.error) item.appendChild(el("div", "cand-error", c.error));
    return item;
  }

  function agreement(members) {
    const counts = new Map();
    for (const c of members) counts.set(c.generator, (counts.get(c.generator) || 0) + 1);
    return [...counts].map(([g, n]) => (n > 1 ? `${g} ×${n}` : g)).join(", ");
  }

  function renderGroups(answer) {
    const section = el("section", "panel", el("h3", null, "Candidate groups"));
    section.appendChild(el("p", "muted",
      "Candidates whose results are equivalent form a group; the vote picks the heaviest group."));
    const list = el("ol", "groups");
    answer.clusters.forEach((cluster, rank) => {
      const members = answer.candidates.filter((c) => c.cluster === cluster.id);
      const chosen = rank === 0 && answer.status === "ok";
      const title = el("div", "group-head",
        el("strong", null, `Group ${cluster.id}`),
        chosen ? el("span", "badge chosen", "chosen") : null,
        el("span", "muted", ` ${plural(cluster.size, "candidate")} · weight ${cluster.weight}`));
      const card = el("li", chosen ? "group chosen" : "group", title,
        el("div", "agreed", `Agreed: ${agreement(members)}`),
        el("pre", null, highlight(cluster.sql)));
      const details = el("details", null, el("summary", null, `Each candidate (${members.length})`),
        el("ul", "candidates", ...members.map(renderCandidate)));
      card.appendChild(details);
      list.appendChild(card);
    });
    section.appendChild(list);
    const outside = answer.candidates.filter((c) => c.cluster === null);
    if (outside.length) {
      section.appendChild(el("h4", null, `Outside any group (${outside.length})`));
      section.appendChild(el("ul", "candidates outside", ...outside.map(renderCandidate)));
    }
    if (answer.failed_generators.length) {
      section.appendChild(el("p", "note warn", `Generators that failed: ${answer.failed_generators.join(", ")}`));
    }
    return section;
  }

  /** Any JSON value as nested lists; strings under an `sql` key are highlighted. */
  function renderValue(value, key) {
    if (value === null || typeof value !== "object") {
      if (typeof value === "string" && /sql/i.test(key || "")) return el("pre", null, highlight(value));
      return el("span", null, value === null ? "null" : String(value));
    }
    if (Array.isArray(value)) return el("ol", "value-list", ...value.map((v) => el("li", null, renderValue(v, key))));
    const dl = el("dl", "value-map");
    for (const [k, v] of Object.entries(value)) {
      dl.appendChild(el("dt", null, k));
      dl.appendChild(el("dd", null, renderValue(v, k)));
    }
    return dl;
  }

  function renderOptional(answer) {
    const sections = [];
    const rounds = answer.sampling && answer.sampling.rounds;
    if (Array.isArray(rounds) && rounds.length > 1) {
      sections.push(el("section", "panel", el("h3", null, "Rounds"), renderValue(rounds, "rounds")));
    }
    if (answer.selection && answer.selection.consulted) {
      sections.push(el("section", "panel", el("h3", null, "Selector decision"), renderValue(answer.selection, "selection")));
    }
    return sections;
  }

  function renderTimings(answer) {
    const t = answer.timings;
    const parts = Object.entries(t.generation_ms).map(([g, v]) => `${g} ${ms(v)}`);
    return el("p", "muted timings",
      `Generation: ${parts.join(", ")} · execution ${ms(t.execution_ms)} · voting ${ms(t.voting_ms)} · total ${ms(t.total_ms)}`
      + ` · ${answer.usage.total_tokens} tokens`);
  }

  function renderAnswer(answer) {
    const box = $("answer");
    const summary = el("section", "panel summary",
      el("div", "row wrap",
        el("h2", null, "Answer"), statusBadge(answer.status),
        el("span", "confidence", `Confidence ${percent(answer.confidence)}`),
        el("meter", null), el("span", "muted", `model ${answer.model}`)));
    const meter = summary.querySelector("meter");
    meter.min = 0;
    meter.max = 1;
    meter.value = answer.confidence;
    if (answer.sql) summary.appendChild(el("pre", "chosen-sql", highlight(answer.sql)));
    else summary.appendChild(el("p", "note warn", "No candidate produced a usable answer."));
    summary.appendChild(renderTimings(answer));
    box.replaceChildren(summary, renderResult(answer.result), renderGroups(answer), ...renderOptional(answer));
    box.hidden = false;
  }

  // ---- asking ----

  async function ask(event) {
    event.preventDefault();
    const question = $("question").value.trim();
    const dbId = $("database").value;
    if (!dbId) return showError({ message: "Pick a database first." });
    if (!question) {
      $("question").focus();
      return showError({ message: "Type a question first." });
    }
    clearError();
    $("ask").disabled = true;
    $("busy").textContent = "Asking every generator…";
    const started = performance.now();
    try {
      const answer = await api("v1/sql", {
        model: $("model").value || "ensemble", question, db_id: dbId, evidence: $("evidence").value.trim(),
      });
      renderAnswer(answer);
      $("busy").textContent = `Answered in ${ms(performance.now() - started)}.`;
    } catch (error) {
      $("answer").hidden = true;
      $("busy").textContent = "";
      fail(error);
    } finally {
      $("ask").disabled = false;
      $("question").focus();
    }
  }

  function init() {
    $("ask-form").addEventListener("submit", ask);
    $("question").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("ask-form").requestSubmit();
      }
    });
    $("database").addEventListener("change", () => { clearError(); loadSchema($("database").value); });
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_STORE, key);
      $("api-key").value = "";
      loadCatalog();
    });
    $("forget-key").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORE);
      $("forget-key").hidden = true;
      loadCatalog();
    });
    $("question").focus();
    loadCatalog();
  }

  init();
})();
