/* The segment builder (customers/segments/admin.py SegmentRuleWidget).
 *
 * Edits the rule tree of customers/segments/rules.py with menus: groups (all / any, nested, negated)
 * over conditions of every type. The rule's JSON lives in the form's textarea (collapsed, editable by
 * power users; the builder follows it). Every change asks the preview endpoint for the live count and a
 * sample of members. All words come translated from the server (the widget's JSON config).
 */
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === undefined || value === null) return;
      if (key === "text") node.textContent = value;
      else if (key.slice(0, 2) === "on") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function isObject(value) { return value !== null && typeof value === "object" && !Array.isArray(value); }
  function isGroup(node) { return isObject(node) && (Array.isArray(node.all) || Array.isArray(node.any)); }

  function Builder(root, config) {
    this.root = root;
    this.config = config;
    this.L = config.labels || {};
    this.opts = config.options || {};
    ["tags", "groups", "accounts", "segments"].forEach(function (k) { if (!Array.isArray(this.opts[k])) this.opts[k] = []; }, this);
    this.classes = config.classes || {};
    this.textarea = root.querySelector("textarea");
    this.tree = root.querySelector(".segment-builder-tree");
    this.countOut = root.querySelector(".segment-builder-count");
    this.errorsOut = root.querySelector(".segment-builder-errors");
    this.sampleOut = root.querySelector(".segment-builder-sample");
    this.staticNote = root.querySelector(".segment-builder-static");
    this.kindSelect = document.getElementById("id_kind");
    this.nodeErrors = {};
    this.timer = null;
    this.request = 0;
  }

  Builder.prototype.label = function (key, fallback) { return this.L[key] || fallback || key; };
  Builder.prototype.format = function (key, values) {
    return this.label(key).replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  };

  // --- form controls, styled with the theme's classes ---
  Builder.prototype.select = function (items, current, onchange, attrs) {
    var s = el("select", Object.assign({"class": this.classes.select}, attrs || {}));
    var found = items.some(function (item) { return String(item.value) === String(current); });
    if (!found) s.appendChild(el("option", {value: "", text: items.length ? this.label("choose") : this.label("none_available")}));
    items.forEach(function (item) {
      var option = el("option", {value: String(item.value), text: item.label});
      if (String(item.value) === String(current)) option.selected = true;
      s.appendChild(option);
    });
    s.addEventListener("change", function () { onchange(s.value); });
    // The theme's select: the chevron sits over the right edge of the box.
    return el("span", {"class": "relative inline-block"}, [s, el("span", {
      "class": "material-symbols-outlined absolute pointer-events-none mr-[12px] right-0 text-base-400 top-1/2 -translate-y-1/2 dark:text-base-500",
      text: "expand_more"})]);
  };
  Builder.prototype.input = function (value, onchange, attrs) {
    var i = el("input", Object.assign({type: "text", "class": this.classes.input}, attrs || {}));
    i.value = value === undefined || value === null ? "" : (typeof value === "string" ? value : JSON.stringify(value));
    i.addEventListener("input", function () { onchange(i.value); });
    return i;
  };
  Builder.prototype.number = function (value, onchange, attrs) {
    return this.input(value, function (text) {
      var n = Number(text);
      onchange(text.trim() === "" ? undefined : (isFinite(n) ? n : text));
    }, Object.assign({type: "number", style: "width:7rem"}, attrs || {}));
  };
  Builder.prototype.idChoices = function (list) { return list.map(function (o) { return {value: o.id, label: o.label}; }); };
  Builder.prototype.idSelect = function (list, current, onchange, attrs) {
    return this.select(this.idChoices(list), current, function (v) { onchange(v === "" ? null : Number(v)); }, attrs);
  };
  Builder.prototype.multi = function (items, current, onchange, attrs) {
    var s = el("select", Object.assign({multiple: "multiple", size: Math.min(6, Math.max(3, items.length)), "class": this.classes.select}, attrs || {}));
    var chosen = (current || []).map(String);
    items.forEach(function (item) {
      var option = el("option", {value: String(item.value), text: item.label});
      if (chosen.indexOf(String(item.value)) >= 0) option.selected = true;
      s.appendChild(option);
    });
    s.addEventListener("change", function () {
      onchange(Array.prototype.filter.call(s.options, function (o) { return o.selected; }).map(function (o) { return Number(o.value); }));
    });
    return s;
  };
  Builder.prototype.button = function (text, onclick, attrs) {
    return el("button", Object.assign({type: "button", text: text, onclick: onclick,
      "class": "border border-base-200 rounded-default px-3 py-1 text-sm cursor-pointer hover:bg-base-50 dark:border-base-700"}, attrs || {}));
  };
  Builder.prototype.text = function (text) { return el("span", {"class": "text-sm text-base-500", text: text}); };

  // --- the tree ---
  // A node is drawn with `replace(newNode)` / `remove()` from its parent, so negation and removal work at any depth.
  Builder.prototype.renderNode = function (node, path, replace, remove) {
    var self = this;
    var negated = isObject(node) && node.not !== undefined && Object.keys(node).length === 1;
    var inner = negated ? node.not : node;
    var innerPath = negated ? path + ".not" : path;
    var setInner = function (value) { replace(negated ? {not: value} : value); };
    var notBox = el("input", {type: "checkbox", "data-testid": "builder-not"});
    notBox.checked = negated;
    notBox.addEventListener("change", function () { replace(notBox.checked ? {not: inner} : inner); self.changed(true); });
    var head = [el("label", {"class": "flex items-center gap-1 text-sm whitespace-nowrap"}, [notBox, this.label("not")])];
    var removeButton = remove ? this.button(this.label("remove"), function () { remove(); self.changed(true); }, {"data-testid": "builder-remove", title: this.label("remove")}) : null;
    var errorLine = el("p", {"class": "text-red-600 text-xs", "data-testid": "builder-node-error"});
    this.errorSlots.push({paths: [path, innerPath], node: errorLine});

    if (isGroup(inner)) {
      var kind = Array.isArray(inner.all) ? "all" : "any";
      var list = inner[kind];
      head.push(this.select([{value: "all", label: this.label("all")}, {value: "any", label: this.label("any")}], kind, function (v) {
        var group = {}; group[v] = list; setInner(group); self.changed(true);
      }, {"data-testid": "builder-group-kind"}));
      if (removeButton) head.push(removeButton);
      var items = el("div", {"class": "flex flex-col gap-2 border-l-2 border-base-200 pl-4 ml-2 dark:border-base-700"});
      if (!list.length) items.appendChild(this.text(kind === "all" ? this.label("empty_all") : this.label("empty_any")));
      list.forEach(function (child, index) {
        items.appendChild(self.renderNode(child, innerPath + "." + kind + "[" + index + "]",
          function (value) { list[index] = value; }, function () { list.splice(index, 1); }));
      });
      var adder = this.select(this.config.types || [], "", function (type) {
        if (!type) return;
        list.push(self.defaultCondition(type));
        self.changed(true);
      }, {"data-testid": "builder-add-condition"});
      adder.querySelector("select").options[0].textContent = this.label("add_condition");
      var addGroup = this.button(this.label("add_group"), function () { list.push({any: []}); self.changed(true); }, {"data-testid": "builder-add-group"});
      items.appendChild(el("div", {"class": "flex flex-wrap items-center gap-2"}, [adder, addGroup]));
      return el("div", {"class": "flex flex-col gap-2", "data-testid": "builder-group", "data-path": innerPath},
        [el("div", {"class": "flex flex-wrap items-center gap-2"}, head), errorLine, items]);
    }
    if (!isObject(inner) || !inner.type) {
      // Not something the builder can draw (the JSON editor shows it): offer to remove it.
      head.push(el("code", {"class": "text-xs", text: JSON.stringify(inner)}));
      if (removeButton) head.push(removeButton);
      return el("div", {"class": "flex flex-col gap-1", "data-testid": "builder-condition", "data-type": "unknown"},
        [el("div", {"class": "flex flex-wrap items-center gap-2"}, head), errorLine]);
    }
    var typeLabel = (this.config.types || []).filter(function (t) { return t.value === inner.type; })[0];
    head.push(el("span", {"class": "font-medium text-sm text-primary-600 whitespace-nowrap", text: typeLabel ? typeLabel.label : inner.type}));
    var parts = this.conditionParts(inner, function (rerender) { self.changed(rerender); });
    var row = el("div", {"class": "flex flex-wrap items-center gap-2"}, head.concat(parts));
    if (removeButton) row.appendChild(removeButton);
    return el("div", {"class": "flex flex-col gap-1 bg-base-50 rounded-default px-2 py-1 dark:bg-base-800", "data-testid": "builder-condition", "data-type": inner.type, "data-path": innerPath},
      [row, errorLine]);
  };

  Builder.prototype.render = function () {
    var self = this;
    this.errorSlots = [];
    this.tree.innerHTML = "";
    this.tree.appendChild(this.renderNode(this.rule, "$", function (value) { self.rule = value; }, null));
    this.showNodeErrors();
  };

  Builder.prototype.normalise = function (rule) {
    if (!isObject(rule) || !Object.keys(rule).length) return {all: []};
    if (isGroup(rule)) return rule;
    // A bare condition or a top-level NOT: the builder edits a group at the top.
    return {all: [rule]};
  };

  Builder.prototype.writeJson = function () {
    this.textarea.value = JSON.stringify(this.rule, null, 2);
  };

  Builder.prototype.changed = function (rerender) {
    this.writeJson();
    if (rerender) this.render();
    this.scheduleCount();
  };

  Builder.prototype.scheduleCount = function () {
    var self = this;
    clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.count(); }, 400);
  };

  Builder.prototype.loadFromJson = function (quiet) {
    var text = this.textarea.value.trim();
    var parsed;
    try { parsed = text ? JSON.parse(text) : {all: []}; } catch (e) {
      this.showErrors([{path: "$", message: this.label("json_invalid")}], true);
      return false;
    }
    this.rule = this.normalise(parsed);
    if (!quiet) this.writeJson();
    this.render();
    return true;
  };

  // --- errors: the operator's hint beside the node, the checker's message as its tooltip ---
  Builder.prototype.hint = function (path) {
    var last = path.indexOf(".") >= 0 ? path.slice(path.lastIndexOf(".") + 1).split("[")[0] : "";
    return (this.config.hints || {})[last] || this.config.generic_hint || path;
  };
  Builder.prototype.showErrors = function (errors, raw) {
    var self = this;
    this.nodeErrors = {};
    this.errorsOut.innerHTML = "";
    (errors || []).forEach(function (error) {
      var path = String(error.path || "$");
      var message = raw ? error.message : self.hint(path);
      self.errorsOut.appendChild(el("li", {text: message + " (" + path + ")", title: error.message || ""}));
      self.nodeErrors[path] = (self.nodeErrors[path] || []).concat([{message: message, detail: error.message}]);
    });
    this.showNodeErrors();
  };
  Builder.prototype.showNodeErrors = function () {
    var slots = this.errorSlots || [];
    slots.forEach(function (slot) { slot.node.textContent = ""; slot.node.removeAttribute("title"); });
    Object.keys(this.nodeErrors).forEach(function (path) {
      // The deepest drawn node whose path starts the error's path.
      var best = null, bestLength = -1;
      slots.forEach(function (slot) {
        slot.paths.forEach(function (p) {
          var boundary = path.charAt(p.length);
          if (path.indexOf(p) === 0 && (boundary === "" || boundary === "." || boundary === "[") && p.length > bestLength) { best = slot; bestLength = p.length; }
        });
      });
      if (best) {
        var errors = this.nodeErrors[path];
        best.node.textContent = (best.node.textContent ? best.node.textContent + " " : "") + errors.map(function (e) { return e.message; }).join(" ");
        best.node.title = errors.map(function (e) { return e.detail; }).join("\n");
      }
    }, this);
  };

  // --- live count and sample ---
  Builder.prototype.csrf = function () {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field && field.value) return field.value;
    var match = document.cookie.match(/csrftoken=([^;]+)/);
    return match ? match[1] : "";
  };
  Builder.prototype.formatTime = function (text) {
    if (!text) return this.label("never");
    var date = new Date(String(text).replace(" ", "T"));
    if (isNaN(date.getTime())) return String(text);
    try {
      return date.toLocaleString(this.config.locale || undefined, {timeZone: this.config.time_zone || undefined, dateStyle: "short", timeStyle: "short"});
    } catch (e) { return date.toLocaleString(); }
  };
  Builder.prototype.showSample = function (sample) {
    var self = this;
    this.sampleOut.innerHTML = "";
    if (!sample || !sample.length) { this.sampleOut.appendChild(this.text(this.label("no_sample"))); return; }
    this.sampleOut.appendChild(el("p", {"class": "text-base-500 mb-2", text: this.label("sample")}));
    var list = el("ul", {"class": "flex flex-col gap-1"});
    sample.forEach(function (customer) {
      var url = String(self.config.customer_url || "").replace("/0/", "/" + customer.id + "/");
      list.appendChild(el("li", {"class": "flex flex-wrap gap-2"}, [
        el("a", {href: url, "class": "text-primary-600 underline", "data-testid": "builder-sample-link", text: customer.display_name || ("#" + customer.id)}),
        self.text([customer.city || "", self.label("last_engaged") + " " + self.formatTime(customer.last_engaged_at)].filter(Boolean).join(" · "))
      ]));
    });
    this.sampleOut.appendChild(list);
  };
  Builder.prototype.count = function () {
    var self = this;
    if (this.isStatic()) return;
    var ticket = ++this.request;
    this.countOut.textContent = this.label("counting");
    this.countOut.removeAttribute("data-count");
    fetch(this.config.preview_url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": this.csrf()},
      body: JSON.stringify({rule: this.rule, segment_id: this.config.segment_id})
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; }, function () { return {ok: false, data: {}}; });
    }).then(function (result) {
      if (ticket !== self.request) return;  // a newer count is on its way
      if (result.ok && typeof result.data.count === "number") {
        var n = result.data.count;
        self.countOut.textContent = self.format("count", {count: n.toLocaleString(self.config.locale || undefined)}) + " " + self.format("took", {ms: result.data.duration_ms});
        self.countOut.setAttribute("data-count", String(n));
        self.showErrors([]);
        self.showSample(result.data.sample);
      } else {
        self.countOut.textContent = self.label("invalid");
        self.showErrors(result.data.errors && result.data.errors.length ? result.data.errors : [{path: "$", message: result.data.message || ""}]);
        self.sampleOut.innerHTML = "";
      }
    }).catch(function () {
      if (ticket === self.request) self.countOut.textContent = self.label("failed");
    });
  };

  // --- static segments have no rule ---
  Builder.prototype.isStatic = function () { return !!(this.kindSelect && this.kindSelect.value === "static"); };
  Builder.prototype.applyKind = function () {
    var isStatic = this.isStatic();
    this.staticNote.textContent = this.label("static_note");
    this.staticNote.classList.toggle("hidden", !isStatic);
    Array.prototype.forEach.call(this.root.children, function (child) {
      if (child !== this.staticNote) child.classList.toggle("hidden", isStatic);
    }, this);
    if (!isStatic) this.scheduleCount();
  };

  Builder.prototype.start = function () {
    var self = this;
    if (!this.textarea) return;
    this.loadFromJson(false);
    var jsonTimer = null;
    this.textarea.addEventListener("input", function () {
      clearTimeout(jsonTimer);
      jsonTimer = setTimeout(function () { if (self.loadFromJson(true)) self.scheduleCount(); }, 500);
    });
    if (this.kindSelect) this.kindSelect.addEventListener("change", function () { self.applyKind(); });
    this.applyKind();
  };

  // The condition editors (segment_builder_conditions.js) extend the Builder before the page boots it.
  window.ScrmSegmentBuilder = {Builder: Builder, el: el};

  function boot() {
    Array.prototype.forEach.call(document.querySelectorAll(".segment-builder[data-config]"), function (root) {
      if (root.getAttribute("data-started")) return;
      root.setAttribute("data-started", "1");
      var script = document.getElementById(root.getAttribute("data-config"));
      var config = {};
      try { config = JSON.parse(script ? script.textContent : "{}") || {}; } catch (e) { config = {}; }
      new Builder(root, config).start();
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
