/*
 * chat.js: the chat page of the preview (issue 15, items 1 and 3).
 *
 * One pane per session of GET /api/config (a phone-number user and a username user, side by
 * side): a WhatsApp-like phone column and the inspector of that session. What the user does
 * goes to POST /api/sessions/{sid}/send (the server turns it into a signed webhook); what
 * happens comes back as server-sent events on /api/sessions/{sid}/events (replayed on
 * connect): user and bot messages, ticks, the typing indicator. Bubbles are drawn by
 * whatsapp.js; every text goes through textContent, never innerHTML.
 */
(function () {
  "use strict";

  var WA = window.WhatsApp;
  var config = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(className, label, testid) {
    var b = el("button", className, label);
    b.type = "button";
    if (testid) b.setAttribute("data-testid", testid);
    return b;
  }

  function showError(text) {
    var box = document.getElementById("page-error");
    box.textContent = text;
    box.hidden = false;
  }

  function api(path, body) {
    var init = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    };
    return fetch(path, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
        return data;
      });
    });
  }

  // ---- one session pane -------------------------------------------------------------------

  function Pane(session) {
    this.session = session;
    this.sid = session.id;
    this.seen = {};        // wamid -> bubble element
    this.pending = {};     // wamid -> tick state that came before its bubble
    this.transcripts = {}; // wamid -> typed text of a voice note
    this.summaries = {};   // bot wamid -> short text, quoted by taps on it
    this.source = null;
    this.inspectTimer = null;
    this.build();
  }

  Pane.prototype.build = function () {
    var self = this;
    var root = el("section", "session");
    root.setAttribute("data-session", this.sid);
    this.root = root;

    var label = el("div", "session-label");
    this.conn = el("span", "session-conn");
    this.conn.title = "connecting…";
    label.appendChild(this.conn);
    this.labelText = el("span", "session-name", this.session.label || this.sid);
    label.appendChild(this.labelText);
    var reset = button("reset", "Start over", "reset");
    reset.title = "A new fake identity for this session";
    reset.addEventListener("click", function () { self.reset(); });
    label.appendChild(reset);
    root.appendChild(label);

    var columns = el("div", "session-columns");
    root.appendChild(columns);

    var phone = el("div", "phone");
    columns.appendChild(phone);

    var head = el("div", "wa-header");
    var avatar = el("div", "wa-avatar", (config.business_name || "B").charAt(0));
    head.appendChild(avatar);
    var names = el("div", "wa-names");
    names.appendChild(el("div", "wa-business", config.business_name || "Business"));
    this.status = el("div", "wa-status", "online");
    this.typing = el("div", "wa-status typing", "schreibt…");
    this.typing.setAttribute("data-testid", "typing");
    this.typing.hidden = true;
    names.appendChild(this.status);
    names.appendChild(this.typing);
    head.appendChild(names);
    phone.appendChild(head);

    this.messages = el("div", "wa-messages");
    this.messages.setAttribute("data-testid", "messages");
    phone.appendChild(this.messages);
    this.dots = el("div", "typing-bubble");
    this.dots.hidden = true;
    this.dots.appendChild(el("span"));
    this.dots.appendChild(el("span"));
    this.dots.appendChild(el("span"));

    phone.appendChild(this.buildComposer());
    columns.appendChild(this.buildInspector());
  };

  Pane.prototype.buildComposer = function () {
    var self = this;
    var bar = el("form", "wa-composer");
    bar.addEventListener("submit", function (event) { event.preventDefault(); self.sendText(); });

    var menu = el("div", "attach-menu");
    menu.hidden = true;
    menu.appendChild(el("div", "attach-title", "Share location"));
    (config.location_presets || []).forEach(function (preset) {
      var b = button("location-preset", preset.name, "location-preset");
      b.insertBefore(WA.icon("pin", "icon-menu"), b.firstChild);
      b.setAttribute("data-city", preset.name);
      b.addEventListener("click", function () {
        menu.hidden = true;
        self.send({ type: "location", latitude: preset.latitude, longitude: preset.longitude, name: preset.name });
      });
      menu.appendChild(b);
    });
    var image = button("send-image", "Send image", "send-image");
    image.insertBefore(WA.icon("camera", "icon-menu"), image.firstChild);
    image.title = "Sends a test photo; the typed text becomes its caption";
    image.addEventListener("click", function () {
      menu.hidden = true;
      var caption = self.input.value.trim();
      var body = { type: "image" };
      if (caption) body.caption = caption;
      self.input.value = "";
      self.send(body);
    });
    menu.appendChild(image);
    this.menu = menu;

    var attach = button("attach", "", "attach");
    attach.setAttribute("aria-label", "Attach");
    attach.title = "Location or image";
    attach.appendChild(WA.icon("clip"));
    attach.addEventListener("click", function () { menu.hidden = !menu.hidden; });

    this.input = el("input", "composer-input");
    this.input.type = "text";
    this.input.placeholder = "Nachricht";
    this.input.autocomplete = "off";
    this.input.setAttribute("data-testid", "composer");

    var voice = button("voice", "", "voice");
    voice.appendChild(WA.icon("mic", "icon-mic-button"));
    voice.setAttribute("aria-label", "Send as voice note");
    voice.title = "Send the typed text as a voice note (needs STT on the Rasa side)";
    voice.addEventListener("click", function () { self.sendVoice(); });

    var send = button("send", "", "send");
    send.type = "submit";
    send.setAttribute("aria-label", "Send");
    send.appendChild(WA.icon("send"));

    var wrap = el("div", "composer-wrap");
    wrap.appendChild(menu);
    bar.appendChild(attach);
    bar.appendChild(this.input);
    bar.appendChild(voice);
    bar.appendChild(send);
    wrap.appendChild(bar);
    return wrap;
  };

  Pane.prototype.buildInspector = function () {
    var self = this;
    var panel = el("aside", "inspector");
    panel.setAttribute("data-testid", "inspector");
    var head = el("div", "inspector-head");
    head.appendChild(el("span", "inspector-title", "Inspector"));
    var refresh = button("inspector-refresh", "↻", "inspector-refresh");
    refresh.title = "Reload";
    refresh.addEventListener("click", function () { self.loadInspector(); });
    head.appendChild(refresh);
    panel.appendChild(head);
    this.turns = el("div", "turns");
    this.turns.appendChild(el("div", "inspector-empty", "No turn yet."));
    panel.appendChild(this.turns);
    return panel;
  };

  // ---- sending ----------------------------------------------------------------------------

  Pane.prototype.send = function (body, extra) {
    var self = this;
    self.menu.hidden = true;
    return api("/api/sessions/" + encodeURIComponent(this.sid) + "/send", body).then(function (data) {
      if (extra && extra.transcript && data.wamid) self.transcripts[data.wamid] = extra.transcript;
      if (data.wamid && data.message) self.addUser({ wamid: data.wamid, message: data.message, time: Date.now() / 1000 });
      else if (data.wamid && self.seen[data.wamid]) self.addTranscript(data.wamid);
    }).catch(function (error) {
      self.notice("Not sent: " + error.message);
    });
  };

  Pane.prototype.sendText = function () {
    var text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.send({ type: "text", text: text });
  };

  Pane.prototype.sendVoice = function () {
    var text = this.input.value.trim();
    if (!text) {
      this.notice("Type what the voice note says, then press the microphone.");
      return;
    }
    this.input.value = "";
    this.send({ type: "voice", text: text, unsure: false }, { transcript: text });
  };

  Pane.prototype.tap = function (wamid, tap) {
    var body = { type: "tap", kind: tap.kind, id: tap.id, title: tap.title, context: wamid };
    if (tap.description) body.description = tap.description;
    this.send(body);
  };

  // ---- drawing events ---------------------------------------------------------------------

  Pane.prototype.append = function (node) {
    var stick = this.messages.scrollHeight - this.messages.scrollTop - this.messages.clientHeight < 80;
    this.messages.insertBefore(node, this.dots.parentNode === this.messages ? this.dots : null);
    if (this.dots.parentNode !== this.messages) this.messages.appendChild(this.dots);
    if (stick || node.classList.contains("out")) this.messages.scrollTop = this.messages.scrollHeight;
  };

  Pane.prototype.notice = function (text) {
    var note = el("div", "wa-notice", text);
    this.append(note);
  };

  Pane.prototype.addUser = function (data) {
    if (!data || !data.wamid || this.seen[data.wamid]) {
      if (data && data.wamid) this.addTranscript(data.wamid);
      return;
    }
    var message = data.message || {};
    var context = message.context && message.context.id;
    var bubble = WA.render(message, {
      direction: "out",
      wamid: data.wamid,
      time: data.time,
      state: this.pending[data.wamid] || "sent",
      quote: context ? this.summaries[context] : null,
      transcript: this.transcripts[data.wamid]
    });
    this.seen[data.wamid] = bubble;
    this.append(bubble);
  };

  Pane.prototype.addTranscript = function (wamid) {
    var bubble = this.seen[wamid];
    var text = this.transcripts[wamid];
    if (!bubble || !text || bubble.querySelector(".voice-transcript")) return;
    var voice = bubble.querySelector(".voice-note");
    if (voice) voice.appendChild(el("div", "voice-transcript", "„" + text + "“"));
  };

  Pane.prototype.addBot = function (data) {
    var self = this;
    if (!data || (data.wamid && this.seen[data.wamid])) return;
    var message = data.message || {};
    var wamid = data.wamid;
    var bubble = WA.render(message, {
      direction: "in",
      wamid: wamid,
      time: data.time,
      onTap: function (tap) { self.tap(wamid, tap); }
    });
    if (wamid) {
      this.seen[wamid] = bubble;
      this.summaries[wamid] = WA.summary(message);
    }
    this.setTyping(false);
    this.append(bubble);
    this.scheduleInspector();
  };

  Pane.prototype.setStatus = function (data) {
    if (!data || !data.wamid) return;
    var bubble = this.seen[data.wamid];
    if (bubble) WA.setTicks(bubble, data.state);
    else this.pending[data.wamid] = data.state;
  };

  Pane.prototype.setTyping = function (on) {
    this.typing.hidden = !on;
    this.status.hidden = !!on;
    this.dots.hidden = !on;
    if (on) this.messages.scrollTop = this.messages.scrollHeight;
  };

  Pane.prototype.connect = function () {
    var self = this;
    if (this.source) this.source.close();
    var source = new EventSource("/api/sessions/" + encodeURIComponent(this.sid) + "/events");
    this.source = source;
    function on(name, handler) {
      source.addEventListener(name, function (event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        handler.call(self, data);
      });
    }
    source.addEventListener("open", function () {
      self.conn.classList.add("live");
      self.conn.title = "live: updates from the preview server";
    });
    source.addEventListener("error", function () {
      self.conn.classList.remove("live");
      self.conn.title = "disconnected: retrying (is the preview server running?)";
    });
    on("user", function (data) { this.addUser(data); this.scheduleInspector(); });
    on("bot", this.addBot);
    on("status", this.setStatus);
    on("typing", function (data) { this.setTyping(!!(data && data.on)); });
  };

  Pane.prototype.reset = function () {
    var self = this;
    api("/api/sessions/" + encodeURIComponent(this.sid) + "/reset", {}).then(function (data) {
      if (data.session) {
        self.session = data.session;
        self.labelText.textContent = data.session.label || self.sid;
      }
      self.seen = {};
      self.pending = {};
      self.transcripts = {};
      self.summaries = {};
      while (self.messages.firstChild) self.messages.removeChild(self.messages.firstChild);
      self.setTyping(false);
      var sheet = self.root.querySelector(".sheet-overlay");
      if (sheet) sheet.remove();
      self.connect();
      self.loadInspector();
    }).catch(function (error) {
      self.notice("Reset failed: " + error.message);
    });
  };

  // ---- inspector --------------------------------------------------------------------------

  Pane.prototype.scheduleInspector = function () {
    var self = this;
    // Once soon, and once more for a tracker written after the reply was sent.
    clearTimeout(this.inspectTimer);
    clearTimeout(this.inspectLate);
    this.inspectTimer = setTimeout(function () { self.loadInspector(); }, 600);
    this.inspectLate = setTimeout(function () { self.loadInspector(); }, 2500);
  };

  Pane.prototype.loadInspector = function () {
    var self = this;
    api("/api/sessions/" + encodeURIComponent(this.sid) + "/inspect").then(function (data) {
      self.drawTurns(data.turns || []);
    }).catch(function (error) {
      self.turns.textContent = "";
      self.turns.appendChild(el("div", "inspector-empty", "Inspector unavailable: " + error.message));
    });
  };

  function field(parent, label, className, value) {
    var row = el("div", "turn-field");
    row.appendChild(el("span", "turn-label", label));
    var content = el("span", className);
    if (value instanceof Node) content.appendChild(value);
    else content.textContent = value;
    row.appendChild(content);
    parent.appendChild(row);
    return content;
  }

  function chips(items) {
    var fragment = document.createDocumentFragment();
    items.forEach(function (text) { fragment.appendChild(el("span", "chip", text)); });
    if (!items.length) fragment.appendChild(el("span", "none", "—"));
    return fragment;
  }

  function show(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function drawTurn(turn, index) {
    var box = el("div", "turn");
    box.setAttribute("data-testid", "turn");
    var head = el("div", "turn-head");
    head.appendChild(el("span", "turn-number", "#" + (index + 1)));
    head.appendChild(el("span", "turn-user", show(turn.user === undefined ? "" : turn.user)));
    box.appendChild(head);
    var intent = turn.intent || null;
    field(box, "Intent", "intent", intent ? intent.name : "—");
    var confidence = intent && typeof intent.confidence === "number" ? intent.confidence.toFixed(2) : "—";
    var conf = field(box, "Confidence", "confidence", confidence);
    if (intent && typeof intent.confidence === "number" && intent.confidence < 0.6) conf.classList.add("low");
    field(box, "Entities", "entities", chips((turn.entities || []).map(function (e) {
      return (e.entity || "?") + " = " + show(e.value);
    })));
    var slots = turn.slots || {};
    field(box, "Slots", "slots", chips(Object.keys(slots).map(function (name) {
      return name + " → " + show(slots[name]);
    })));
    field(box, "Actions", "actions", chips(turn.actions || []));
    var payloads = turn.payloads || [];
    var details = el("details", "payloads");
    details.appendChild(el("summary", null, payloads.length + " Graph API payload" + (payloads.length === 1 ? "" : "s")));
    payloads.forEach(function (payload) {
      details.appendChild(el("pre", "payload", JSON.stringify(payload, null, 2)));
    });
    box.appendChild(details);
    return box;
  }

  Pane.prototype.drawTurns = function (turns) {
    var open = {};
    this.turns.querySelectorAll("details.payloads").forEach(function (d, i) { if (d.open) open[i] = true; });
    this.turns.textContent = "";
    if (!turns.length) this.turns.appendChild(el("div", "inspector-empty", "No turn yet."));
    var self = this;
    turns.forEach(function (turn, index) {
      var node = drawTurn(turn, index);
      if (open[index]) node.querySelector("details").open = true;
      self.turns.appendChild(node);
    });
    this.turns.scrollTop = this.turns.scrollHeight;
  };

  // ---- start ------------------------------------------------------------------------------

  document.addEventListener("click", function (event) {
    // A click outside an attach menu closes it.
    document.querySelectorAll(".attach-menu").forEach(function (menu) {
      var wrap = menu.parentNode;
      if (!menu.hidden && !wrap.contains(event.target)) menu.hidden = true;
    });
  });

  api("/api/config").then(function (data) {
    config = data;
    var host = document.getElementById("sessions");
    (data.sessions || []).forEach(function (session) {
      var pane = new Pane(session);
      host.appendChild(pane.root);
      pane.connect();
      pane.loadInspector();
    });
  }).catch(function (error) {
    showError("The preview server does not answer (" + error.message + "). Is `python -m preview` running?");
  });
})();
