/*
 * whatsapp.js: draws one WhatsApp message as the phone shows it (issue 15, items 1 and 2).
 *
 * Shared by the chat page (chat.js) and the response gallery (gallery.js), so a designer sees
 * the same bubble in both. Input: a Graph API message object as the stand-in accepted it
 * (bot -> user: text, interactive button/list/cta_url, image, document, ...) or an inbound
 * webhook message object (user -> bot: text, button_reply/list_reply taps, location, image,
 * voice note). Output: DOM built with createElement/textContent only. Message text never
 * goes through innerHTML, so a response containing "<b>" shows "<b>".
 *
 * Contract: the DOM names (data-testid, classes) are the ones of docs in the issue 15 preview
 * contract; browser tests select by them.
 *
 *   WhatsApp.render(message, {onTap, direction, wamid, time, state, quote, transcript, static})
 *     -> HTMLElement [data-testid=bubble] holding the bubble and its reply buttons / list button.
 *   WhatsApp.format(text) -> DocumentFragment with WhatsApp formatting
 *     (*bold* _italic_ ~strike~ ```mono``` `code`, "> " quotes, "- " and "1. " lists, links).
 *   WhatsApp.setTicks(bubble, state), WhatsApp.summary(message) -> short text of a message.
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var TICK_ORDER = { sent: 1, delivered: 2, read: 3 };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // Small inline icons (paths only; no text inside, so a button's textContent stays its label).
  var ICONS = {
    reply: "M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z",
    list: "M3 5h2v2H3V5zm4 0h14v2H7V5zM3 11h2v2H3v-2zm4 0h14v2H7v-2zm-4 6h2v2H3v-2zm4 0h14v2H7v-2z",
    link: "M14 3h7v7h-2V6.4l-9.3 9.3-1.4-1.4L17.6 5H14V3zM5 5h6v2H5v12h12v-6h2v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V7a2 2 0 0 1 2-2z",
    image: "M21 19V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2zM8.5 13.5l2.5 3 3.5-4.5 4.5 6H5l3.5-4.5z",
    doc: "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8l-6-6zm-1 7V3.5L18.5 9H13z",
    pin: "M12 2a7 7 0 0 0-7 7c0 5.3 7 13 7 13s7-7.7 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z",
    play: "M8 5v14l11-7z",
    mic: "M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11h-2z",
    tick1: "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4L9 16.2z",
    tick2: "M18 7l-1.4-1.4-6.3 6.3 1.4 1.4L18 7zm4.2-1.4L11.7 16.2 7.5 12l-1.4 1.4 5.6 5.6 12-12-1.5-1.4zM.4 13.4 6 19l1.4-1.4L1.8 12 .4 13.4z",
    clip: "M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6h-1.5z",
    send: "M2 21l21-9L2 3v7l15 2-15 2z",
    camera: "M9 3 7.2 5H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2h-3.2L15 3H9zm3 15a5 5 0 1 1 0-10 5 5 0 0 1 0 10z",
    close: "M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z"
  };

  function icon(name, className) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", "icon " + (className || "icon-" + name));
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", ICONS[name]);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  // ---- formatting -------------------------------------------------------------------------

  // Markers count only at word edges, as in WhatsApp: "2*3*4" and snake_case_names stay plain.
  var INLINE = [
    { kind: "code", re: /`([^`\n]+)`/u },
    { kind: "url", re: /(?:\bhttps?:\/\/|\bwww\.)[^\s<>"]+/iu },
    { kind: "strong", re: /(?<![\p{L}\p{N}*])\*(?=\S)([^*\n]*?\S)\*(?![\p{L}\p{N}*])/u },
    { kind: "em", re: /(?<![\p{L}\p{N}_])_(?=\S)([^_\n]*?\S)_(?![\p{L}\p{N}_])/u },
    { kind: "s", re: /(?<![\p{L}\p{N}~])~(?=\S)([^~\n]*?\S)~(?![\p{L}\p{N}~])/u }
  ];

  function safeHref(url) {
    var href = /^www\./i.test(url) ? "https://" + url : url;
    return /^https?:\/\//i.test(href) ? href : null;
  }

  function appendInline(parent, text) {
    while (text) {
      var best = null;
      for (var i = 0; i < INLINE.length; i++) {
        var m = INLINE[i].re.exec(text);
        if (m && (best === null || m.index < best.m.index)) best = { kind: INLINE[i].kind, m: m };
      }
      if (!best) {
        parent.appendChild(document.createTextNode(text));
        return;
      }
      var m0 = best.m;
      var whole = m0[0];
      if (best.kind === "url") {
        // Trailing punctuation belongs to the sentence, not the link.
        var trail = /[.,;:!?)\]'"]+$/.exec(whole);
        if (trail) whole = whole.slice(0, trail.index);
      }
      if (m0.index > 0) parent.appendChild(document.createTextNode(text.slice(0, m0.index)));
      var node;
      if (best.kind === "code") {
        node = el("code", "wa-inline-code", m0[1]);
      } else if (best.kind === "url") {
        node = el("a", "wa-link", whole);
        var href = safeHref(whole);
        if (href) node.href = href;
        node.target = "_blank";
        node.rel = "noopener noreferrer";
      } else {
        node = el(best.kind);
        appendInline(node, m0[1]);
      }
      parent.appendChild(node);
      text = text.slice(m0.index + whole.length);
    }
  }

  function appendLines(parent, text) {
    var lines = text.split("\n");
    var block = null; // the open <blockquote>, <ul> or <ol>
    var blockKind = null;
    var needBreak = false;
    lines.forEach(function (line) {
      var quote = /^>\s?(.*)$/.exec(line);
      var bullet = /^[-*•]\s+(.*)$/.exec(line);
      var numbered = /^(\d+)\.\s+(.*)$/.exec(line);
      var kind = quote ? "quote" : bullet ? "ul" : numbered ? "ol" : null;
      if (kind !== blockKind) {
        block = null;
        blockKind = kind;
        if (kind) {
          block = el(kind === "quote" ? "blockquote" : kind, "wa-" + kind);
          if (kind === "ol") block.start = parseInt(numbered[1], 10);
          parent.appendChild(block);
          needBreak = false;
        }
      }
      if (kind === "quote") {
        var q = el("div", "wa-quote-line");
        appendInline(q, quote[1]);
        block.appendChild(q);
      } else if (kind) {
        var li = el("li");
        appendInline(li, kind === "ul" ? bullet[1] : numbered[2]);
        block.appendChild(li);
      } else {
        if (needBreak) parent.appendChild(el("br"));
        appendInline(parent, line);
        needBreak = true;
      }
    });
  }

  function format(text) {
    var fragment = document.createDocumentFragment();
    var source = text === undefined || text === null ? "" : String(text);
    var parts = source.split("```");
    // Odd parts are ```monospace``` blocks; an unclosed ``` stays as written.
    if (parts.length % 2 === 0) {
      parts[parts.length - 2] += "```" + parts.pop();
    }
    parts.forEach(function (part, index) {
      if (index % 2 === 1) {
        fragment.appendChild(el("code", "wa-mono", part));
      } else if (part) {
        appendLines(fragment, part);
      }
    });
    return fragment;
  }

  // ---- pieces of a bubble -----------------------------------------------------------------

  function clock(time) {
    if (time === undefined || time === null || time === "") return null;
    var date = new Date(Number(time) * 1000);
    if (isNaN(date.getTime())) return null;
    var hh = String(date.getHours()).padStart(2, "0");
    var mm = String(date.getMinutes()).padStart(2, "0");
    return hh + ":" + mm;
  }

  function ticks(state) {
    var span = el("span", "ticks");
    span.setAttribute("data-testid", "ticks");
    setTicks(span, state || "sent");
    return span;
  }

  function setTicks(node, state) {
    var span = node.matches && node.matches("[data-testid=ticks]") ? node : node.querySelector("[data-testid=ticks]");
    if (!span) return;
    var current = span.getAttribute("data-state");
    if (current && (TICK_ORDER[current] || 0) >= (TICK_ORDER[state] || 0)) return; // never downgrade
    span.setAttribute("data-state", state);
    span.setAttribute("title", { sent: "gesendet", delivered: "zugestellt", read: "gelesen" }[state] || state);
    while (span.firstChild) span.removeChild(span.firstChild);
    span.appendChild(icon(state === "sent" ? "tick1" : "tick2", "icon-tick"));
  }

  function textBlock(text, className) {
    var div = el("div", className || "bubble-text");
    div.appendChild(format(text));
    return div;
  }

  function fileName(link) {
    if (!link) return "";
    try {
      var path = new URL(link, window.location.href).pathname;
      return decodeURIComponent(path.split("/").pop() || "");
    } catch (e) {
      return "";
    }
  }

  // Media are never fetched (nothing is loaded from the internet): a placeholder names them.
  function imageBox(image) {
    var box = el("div", "media-image");
    box.setAttribute("data-testid", "media-image");
    box.appendChild(icon("image"));
    var name = (image && (fileName(image.link) || (image.id ? "Bild (Medien-ID)" : ""))) || "Bild";
    box.appendChild(el("span", "media-name", name));
    if (image && image.link) box.title = image.link;
    return box;
  }

  function documentBox(doc) {
    var box = el("div", "media-document");
    box.setAttribute("data-testid", "media-document");
    box.appendChild(icon("doc"));
    var name = (doc && (doc.filename || fileName(doc.link))) || "Dokument";
    var meta = el("div", "media-doc-meta");
    meta.appendChild(el("span", "media-name", name));
    var ext = name.indexOf(".") >= 0 ? name.split(".").pop().toUpperCase() : "DATEI";
    meta.appendChild(el("span", "media-kind", ext));
    box.appendChild(meta);
    if (doc && doc.link) box.title = doc.link;
    return box;
  }

  function locationBox(loc) {
    var box = el("div", "media-location");
    var map = el("div", "location-map");
    map.appendChild(icon("pin", "icon-pin"));
    box.appendChild(map);
    if (loc && loc.name) box.appendChild(el("div", "location-name", loc.name));
    if (loc && loc.address) box.appendChild(el("div", "location-address", loc.address));
    if (loc && loc.latitude !== undefined) {
      box.appendChild(el("div", "location-coords", loc.latitude + ", " + loc.longitude));
    }
    return box;
  }

  function voiceBox(transcript) {
    var box = el("div", "media-voice");
    box.appendChild(icon("play", "icon-play"));
    var wave = el("div", "voice-wave");
    for (var i = 0; i < 28; i++) {
      var bar = el("span");
      bar.style.height = 4 + ((i * 7) % 13) + "px";
      wave.appendChild(bar);
    }
    box.appendChild(wave);
    box.appendChild(icon("mic", "icon-mic"));
    var wrap = el("div", "voice-note");
    wrap.appendChild(box);
    if (transcript) wrap.appendChild(el("div", "voice-transcript", "„" + transcript + "“"));
    return wrap;
  }

  function header(content, part) {
    if (!part) return;
    if (part.type === "text" && part.text) content.appendChild(textBlock(part.text, "bubble-header"));
    else if (part.type === "image") content.appendChild(imageBox(part.image));
    else if (part.type === "document") content.appendChild(documentBox(part.document));
    else if (part.type) content.appendChild(el("div", "bubble-header", "[" + part.type + "]"));
  }

  // ---- the list sheet ---------------------------------------------------------------------

  function listSheet(action, onRow, onClose) {
    var sheet = el("div", "list-sheet");
    sheet.setAttribute("data-testid", "list-sheet");
    var head = el("div", "sheet-head");
    if (onClose) {
      var close = el("button", "sheet-close");
      close.type = "button";
      close.setAttribute("aria-label", "Schließen");
      close.appendChild(icon("close"));
      close.addEventListener("click", onClose);
      head.appendChild(close);
    }
    head.appendChild(el("div", "sheet-title", action.button || ""));
    sheet.appendChild(head);
    var body = el("div", "sheet-body");
    (action.sections || []).forEach(function (section) {
      var sec = el("div", "sheet-section");
      if (section.title) sec.appendChild(el("div", "section-title", section.title));
      (section.rows || []).forEach(function (row) {
        var item = el(onRow ? "button" : "div", "list-row");
        if (onRow) item.type = "button";
        item.setAttribute("data-testid", "list-row");
        item.setAttribute("data-id", row.id || "");
        var texts = el("div", "row-texts");
        texts.appendChild(el("div", "row-title", row.title || ""));
        if (row.description) texts.appendChild(el("div", "row-description", row.description));
        item.appendChild(texts);
        item.appendChild(el("span", "row-radio"));
        if (onRow) item.addEventListener("click", function () { onRow(row); });
        sec.appendChild(item);
      });
      body.appendChild(sec);
    });
    sheet.appendChild(body);
    return sheet;
  }

  function openSheet(anchor, action, onTap) {
    var host = anchor.closest(".phone") || document.body;
    var old = host.querySelector(":scope > .sheet-overlay");
    if (old) old.remove();
    var overlay = el("div", "sheet-overlay");
    function close() { overlay.remove(); }
    overlay.addEventListener("click", function (event) { if (event.target === overlay) close(); });
    overlay.appendChild(listSheet(action, function (row) {
      close();
      var tap = { kind: "list_reply", id: row.id, title: row.title };
      if (row.description) tap.description = row.description;
      onTap(tap);
    }, close));
    host.appendChild(overlay);
  }

  // ---- interactive messages ---------------------------------------------------------------

  function interactive(box, below, message, opts) {
    var inter = message.interactive || {};
    var action = inter.action || {};
    header(box, inter.header);
    if (inter.body && inter.body.text) box.appendChild(textBlock(inter.body.text));
    if (inter.footer && inter.footer.text) box.appendChild(el("div", "bubble-footer", inter.footer.text));
    var tap = opts.static || !opts.onTap ? null : opts.onTap;

    if (inter.type === "button") {
      var buttons = el("div", "reply-buttons");
      (action.buttons || []).forEach(function (b) {
        var reply = b.reply || {};
        var button = el("button", "reply-button");
        button.type = "button";
        button.setAttribute("data-testid", "reply-button");
        button.setAttribute("data-id", reply.id || "");
        button.appendChild(icon("reply"));
        button.appendChild(document.createTextNode(reply.title || ""));
        if (tap) button.addEventListener("click", function () { tap({ kind: "button_reply", id: reply.id, title: reply.title }); });
        else button.disabled = true;
        buttons.appendChild(button);
      });
      below.appendChild(buttons);
    } else if (inter.type === "list") {
      var open = el("button", "list-open");
      open.type = "button";
      open.setAttribute("data-testid", "list-open");
      open.appendChild(icon("list"));
      open.appendChild(document.createTextNode(action.button || ""));
      box.appendChild(open);
      if (tap) {
        open.addEventListener("click", function () { openSheet(open, action, tap); });
      } else {
        open.disabled = true;
        below.appendChild(listSheet(action, null, null)); // the gallery shows the rows inline
        below.lastChild.classList.add("inline");
      }
    } else if (inter.type === "cta_url") {
      var params = action.parameters || {};
      var link = el("a", "cta-url");
      link.setAttribute("data-testid", "cta-url");
      var href = safeHref(params.url || "");
      if (href) link.href = href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.title = params.url || "";
      link.appendChild(icon("link"));
      link.appendChild(document.createTextNode(params.display_text || ""));
      box.appendChild(link);
    } else if (inter.type === "button_reply" || inter.type === "list_reply") {
      var chosen = inter[inter.type] || {};
      box.appendChild(textBlock(chosen.title || ""));
      if (chosen.description) box.appendChild(el("div", "reply-description", chosen.description));
    } else {
      var label = (action.name || inter.type || "interactive").replace(/_/g, " ");
      box.appendChild(el("div", "bubble-action", label));
    }
  }

  function body(box, below, message, opts) {
    var type = message.type;
    var part = message[type] || {};
    if (type === "text") {
      box.appendChild(textBlock(part.body || ""));
    } else if (type === "interactive") {
      interactive(box, below, message, opts);
    } else if (type === "image") {
      box.appendChild(imageBox(part));
      if (part.caption) box.appendChild(textBlock(part.caption));
    } else if (type === "document") {
      box.appendChild(documentBox(part));
      if (part.caption) box.appendChild(textBlock(part.caption));
    } else if (type === "location") {
      box.appendChild(locationBox(part));
    } else if (type === "audio") {
      box.appendChild(voiceBox(opts.transcript));
    } else if (type === "button") {
      box.appendChild(textBlock(part.text || part.payload || ""));
    } else if (type === "reaction") {
      box.appendChild(el("div", "bubble-text reaction", part.emoji || ""));
    } else if (type === "template") {
      box.appendChild(el("div", "bubble-action", "Vorlage: " + (part.name || "?")));
    } else {
      box.appendChild(el("div", "bubble-action", "[" + (type || "unbekannt") + "]"));
    }
  }

  function render(message, options) {
    var opts = options || {};
    message = message || {};
    var direction = opts.direction || "in";
    var root = el("div", "wa-message " + direction);
    root.setAttribute("data-testid", "bubble");
    root.setAttribute("data-direction", direction);
    root.setAttribute("data-type", message.type || "");
    if (opts.wamid) root.setAttribute("data-wamid", opts.wamid);
    var box = el("div", "bubble");
    var below = el("div", "bubble-below");
    if (opts.quote) box.appendChild(el("div", "bubble-quote", opts.quote));
    body(box, below, message, opts);
    var meta = el("span", "bubble-meta");
    var time = clock(opts.time);
    if (time) meta.appendChild(el("span", "bubble-time", time));
    if (direction === "out") meta.appendChild(ticks(opts.state));
    if (meta.childNodes.length) box.appendChild(meta);
    root.appendChild(box);
    if (below.childNodes.length) root.appendChild(below);
    return root;
  }

  // A one-line description of a message, for quotes and the inspector.
  function summary(message) {
    if (!message) return "";
    var part = message[message.type] || {};
    if (message.type === "text") return part.body || "";
    if (message.type === "interactive") {
      if (part.body && part.body.text) return part.body.text;
      var chosen = part[part.type];
      return (chosen && chosen.title) || "";
    }
    if (message.type === "image") return "Foto" + (part.caption ? ": " + part.caption : "");
    if (message.type === "document") return "Dokument: " + (part.filename || fileName(part.link));
    if (message.type === "location") return "Standort" + (part.name ? ": " + part.name : "");
    if (message.type === "audio") return "Sprachnachricht";
    return message.type || "";
  }

  window.WhatsApp = { render: render, format: format, setTicks: setTicks, summary: summary, icon: icon };
})();
