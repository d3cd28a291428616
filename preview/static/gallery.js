/*
 * gallery.js: the response gallery of the preview (issue 15, item 2).
 *
 * Every entry of GET /api/gallery ({"languages": [...], "responses": [R, ...]}) drawn with the
 * chat's own renderer (whatsapp.js), grouped by response name with the languages side by side,
 * the renderer's warnings highlighted and the stories, rules and actions that use it. A filter
 * box, a language switch and "only with warnings" narrow the scroll. Buttons are not clickable
 * here; a list shows its rows inline under the bubble.
 */
(function () {
  "use strict";

  var WA = window.WhatsApp;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function plural(count, one, many) {
    return count + " " + (count === 1 ? one : many);
  }

  function card(entry) {
    var box = el("article", "response-card");
    box.setAttribute("data-testid", "response");
    box.setAttribute("data-name", entry.name || "");
    box.setAttribute("data-language", entry.language || "");
    var warnings = entry.warnings || [];
    if (warnings.length) box.classList.add("has-warnings");

    var head = el("div", "card-head");
    head.appendChild(el("span", "card-language", (entry.language || "?").toUpperCase()));
    if (entry.condition) head.appendChild(el("span", "card-condition", entry.condition));
    box.appendChild(head);

    if (warnings.length) {
      var list = el("ul", "warnings");
      warnings.forEach(function (text) {
        var item = el("li", "warning", text);
        item.setAttribute("data-testid", "warning");
        list.appendChild(item);
      });
      box.appendChild(list);
    }

    var chat = el("div", "mini-chat");
    var rendered = entry.rendered || [];
    rendered.forEach(function (message) {
      chat.appendChild(WA.render(message, { direction: "in", static: true }));
    });
    if (!rendered.length) chat.appendChild(el("div", "wa-notice", "(nothing sent)"));
    box.appendChild(chat);

    var used = el("div", "used-by");
    used.setAttribute("data-testid", "used-by");
    used.appendChild(el("span", "used-label", "Used by: "));
    var users = entry.used_by || [];
    if (!users.length) used.appendChild(el("span", "none", "— (not found in rules, stories or actions)"));
    users.forEach(function (text) { used.appendChild(el("span", "chip", text)); });
    box.appendChild(used);

    var source = el("details", "source");
    source.appendChild(el("summary", null, "domain.yml"));
    source.appendChild(el("pre", null, JSON.stringify(entry.source, null, 2)));
    box.appendChild(source);

    // Everything the filter box searches, lower-cased once.
    box.dataset.search = [entry.name, entry.condition, JSON.stringify(entry.source),
      JSON.stringify(rendered), warnings.join(" "), users.join(" ")].join(" ").toLowerCase();
    return box;
  }

  function draw(data) {
    var host = document.getElementById("gallery");
    var languages = data.languages || [];
    var responses = data.responses || [];
    var select = document.getElementById("language");
    languages.forEach(function (code) {
      var option = el("option", null, code.toUpperCase());
      option.value = code;
      select.appendChild(option);
    });

    var groups = {};
    var order = [];
    responses.forEach(function (entry) {
      if (!groups[entry.name]) {
        groups[entry.name] = [];
        order.push(entry.name);
      }
      groups[entry.name].push(entry);
    });

    var warningCount = 0;
    order.forEach(function (name) {
      var entries = groups[name];
      var section = el("section", "response-group");
      section.setAttribute("data-group", name);
      var title = el("h2", "group-title", name);
      var count = entries.reduce(function (n, e) { return n + (e.warnings || []).length; }, 0);
      warningCount += count;
      if (count) title.appendChild(el("span", "group-warnings", plural(count, "warning", "warnings")));
      section.appendChild(title);
      var columns = el("div", "language-columns");
      var langs = languages.length ? languages.slice() : [];
      entries.forEach(function (e) { if (langs.indexOf(e.language) < 0) langs.push(e.language); });
      langs.forEach(function (code) {
        var column = el("div", "language-column");
        column.setAttribute("data-language", code);
        entries.filter(function (e) { return e.language === code; }).forEach(function (e) {
          column.appendChild(card(e));
        });
        if (column.childNodes.length) columns.appendChild(column);
      });
      section.appendChild(columns);
      host.appendChild(section);
    });

    document.getElementById("summary").textContent =
      plural(order.length, "response", "responses") + ", " + plural(warningCount, "warning", "warnings") +
      " (" + plural(responses.length, "variant", "variants") + ", " +
      languages.map(function (c) { return c.toUpperCase(); }).join(" + ") + ")";
    applyFilter();
  }

  function applyFilter() {
    var words = document.getElementById("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    var language = document.getElementById("language").value;
    var onlyWarnings = document.getElementById("only-warnings").checked;
    var shown = 0;
    document.querySelectorAll(".response-group").forEach(function (group) {
      var visible = 0;
      group.querySelectorAll("[data-testid=response]").forEach(function (box) {
        var ok = (language === "all" || box.getAttribute("data-language") === language) &&
          (!onlyWarnings || box.classList.contains("has-warnings")) &&
          words.every(function (w) { return box.dataset.search.indexOf(w) >= 0; });
        box.hidden = !ok;
        if (ok) visible++;
      });
      group.querySelectorAll(".language-column").forEach(function (column) {
        column.hidden = !column.querySelector("[data-testid=response]:not([hidden])");
      });
      group.hidden = visible === 0;
      if (visible) shown++;
    });
    document.getElementById("shown").textContent = shown + " shown";
  }

  ["input", "change"].forEach(function (kind) {
    document.getElementById("filter").addEventListener(kind, applyFilter);
    document.getElementById("language").addEventListener(kind, applyFilter);
    document.getElementById("only-warnings").addEventListener(kind, applyFilter);
  });

  fetch("/api/gallery").then(function (response) {
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }).then(draw).catch(function (error) {
    var box = document.getElementById("page-error");
    box.textContent = "The gallery could not be loaded (" + error.message + ").";
    box.hidden = false;
    document.getElementById("summary").textContent = "";
  });
})();
