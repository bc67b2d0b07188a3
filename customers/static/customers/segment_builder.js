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

  function clone(value) { return JSON.parse(JSON.stringify(value)); }
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

  // --- defaults and tidying when an operator changes a menu ---
  Builder.prototype.defaultCondition = function (type) {
    var o = this.opts;
    var first = function (list) { return list.length ? list[0].id : null; };
    switch (type) {
      case "tag": return {type: "tag", op: "has", tag: first(o.tags)};
      case "field": return {type: "field", field: "city", op: "eq", value: ""};
      case "channel": return {type: "channel", op: "follows", account: first(o.accounts)};
      case "events": return {type: "events", event_type: "link.click", op: "at_least", count: 1, days: 30};
      case "engagement": return {type: "engagement", op: "last_engaged_within_days", value: 30};
      case "pushes": return {type: "pushes", op: "at_most", count: 2, days: 7};
      case "segment": return {type: "segment", segment: first(o.segments)};
    }
    return {type: type};
  };
  Builder.prototype.fieldType = function (field) {
    if (typeof field === "string" && field.indexOf("attributes.") === 0) return "attribute";
    var found = (this.config.fields || []).filter(function (f) { return f.value === field; })[0];
    return found ? found.type : "string";
  };
  Builder.prototype.defaultValue = function (cond) {
    var ftype = cond.type === "field" ? this.fieldType(cond.field) : null;
    var op = cond.op;
    if (op === "exists") return undefined;
    if (op === "within_days" || op === "last_engaged_within_days") return 30;
    if (op === "between" || op === "score_between") return [0, 10];
    if (op === "in" || op === "not_in") return [];
    if (op === "gt" || op === "lt") return 0;
    if (op === "before" || op === "after" || op === "last_engaged_before" || op === "last_engaged_after") return new Date().toISOString().slice(0, 10);
    if (ftype === "int") return 0;
    return "";
  };
  Builder.prototype.tidy = function (cond) {
    var o = this.opts;
    if (cond.type === "tag") {
      if (cond.op === "has") {
        delete cond.tags; delete cond.group;
        if (cond.tag === undefined) cond.tag = o.tags.length ? o.tags[0].id : null;
      } else {
        delete cond.tag;
        if (cond.tags === undefined && cond.group === undefined) cond.tags = [];
      }
    } else if (cond.type === "field" || cond.type === "engagement") {
      var value = this.defaultValue(cond);
      if (value === undefined) delete cond.value; else cond.value = value;
    } else if (cond.type === "channel") {
      delete cond.account; delete cond.staff; delete cond.template;
      if (cond.op === "follows") cond.account = o.accounts.length ? o.accounts[0].id : null;
      if (cond.op === "has_consent") cond.template = "";
    } else if (cond.type === "pushes" || cond.type === "events") {
      if (cond.op === "ignored_last") { delete cond.days; if (!cond.count) cond.count = 3; }
      if (cond.op === "at_least" && cond.count === 0) cond.count = 1;
    }
  };

  // --- editors of each condition type: they change `cond` and call done(rerender) ---
  Builder.prototype.conditionParts = function (cond, done) {
    var self = this, o = this.opts, parts = [];
    var set = function (key, rerender) { return function (v) { if (v === undefined || v === "") delete cond[key]; else cond[key] = v; done(rerender); }; };
    var opSelect = function (items) {
      return self.select(items || [], cond.op, function (v) { cond.op = v; self.tidy(cond); done(true); }, {"data-testid": "builder-op"});
    };
    if (cond.type === "tag") {
      parts.push(opSelect(this.config.ops.tag));
      if (cond.op === "has") {
        parts.push(this.idSelect(o.tags, cond.tag, set("tag"), {"data-testid": "builder-tag-select"}));
      } else if (cond.group !== undefined) {
        parts.push(this.text(this.label("tag_group")), this.idSelect(o.groups, cond.group, set("group"), {"data-testid": "builder-group-select"}));
      } else {
        parts.push(this.multi(this.idChoices(o.tags), cond.tags, function (v) { cond.tags = v; done(false); }, {"data-testid": "builder-tags-select"}));
      }
      if (cond.op !== "has") {
        parts.push(this.button(cond.group !== undefined ? this.label("by_tags") : this.label("by_group"), function () {
          if (cond.group !== undefined) { delete cond.group; cond.tags = []; }
          else { delete cond.tags; cond.group = o.groups.length ? o.groups[0].id : null; }
          done(true);
        }));
      }
    } else if (cond.type === "field") {
      parts = parts.concat(this.fieldParts(cond, done));
    } else if (cond.type === "channel") {
      parts.push(opSelect(this.config.ops.channel));
      if (cond.op === "follows") parts.push(this.idSelect(o.accounts, cond.account, set("account"), {"data-testid": "builder-account-select"}));
      if (cond.op === "has_wecom") parts.push(this.input(cond.staff, set("staff"), {placeholder: this.label("staff_optional")}));
      if (cond.op === "has_consent") {
        parts.push(this.input(cond.template, function (v) { cond.template = v; done(false); }, {placeholder: this.label("template")}));
        parts.push(this.select([{value: "", label: this.label("any_account")}].concat(this.idChoices(o.accounts)), cond.account === undefined ? "" : cond.account,
          function (v) { if (v === "") delete cond.account; else cond.account = Number(v); done(false); }));
      }
    } else if (cond.type === "events") {
      var known = (this.config.event_types || []).map(function (e) { return e.value; });
      var custom = known.indexOf(cond.event_type) < 0;
      parts.push(this.select((this.config.event_types || []).concat([{value: "__other", label: this.label("other_event")}]), custom ? "__other" : cond.event_type,
        function (v) { cond.event_type = v === "__other" ? "" : v; done(true); }, {"data-testid": "builder-event-type"}));
      if (custom) parts.push(this.input(cond.event_type, function (v) { cond.event_type = v.trim(); done(false); }, {placeholder: "mp.purchase", style: "width:10rem"}));
      parts.push(opSelect(this.config.ops.events));
      parts.push(this.number(cond.count, set("count")), this.text(this.label("times")));
      parts.push(this.text(this.label("in_last_days")), this.number(cond.days, set("days"), {style: "width:6rem"}));
      parts.push(this.input(cond.properties, function (v) {
        if (v.trim() === "") delete cond.properties;
        else { try { cond.properties = JSON.parse(v); } catch (e) { cond.properties = v; } }
        done(false);
      }, {placeholder: this.label("properties"), style: "width:14rem"}));
    } else if (cond.type === "engagement") {
      parts.push(opSelect(this.config.ops.engagement));
      if (cond.op === "last_engaged_within_days") parts.push(this.number(cond.value, set("value")), this.text(this.label("days")));
      else if (cond.op === "score_between") parts = parts.concat(this.betweenParts(cond, done));
      else parts.push(this.dateInput(cond, done));
    } else if (cond.type === "pushes") {
      parts.push(opSelect(this.config.ops.pushes));
      parts.push(this.number(cond.count, set("count")), this.text(this.label("times")));
      if (cond.op !== "ignored_last") parts.push(this.text(this.label("in_last_days")), this.number(cond.days, set("days"), {style: "width:6rem"}));
    } else if (cond.type === "segment") {
      parts.push(this.idSelect(o.segments, cond.segment, set("segment"), {"data-testid": "builder-segment-select"}));
    }
    return parts;
  };

  Builder.prototype.dateInput = function (cond, done) {
    var value = typeof cond.value === "string" ? cond.value.slice(0, 10) : "";
    return this.input(value, function (v) { cond.value = v; done(false); }, {type: "date", style: "width:11rem"});
  };
  Builder.prototype.betweenParts = function (cond, done) {
    var pair = Array.isArray(cond.value) ? cond.value : [0, 10];
    cond.value = pair;
    var side = function (index) { return function (v) { pair[index] = v === undefined ? "" : v; done(false); }; };
    return [this.text(this.label("low")), this.number(pair[0], side(0)), this.text(this.label("high")), this.number(pair[1], side(1))];
  };
  Builder.prototype.typedScalar = function (text, ftype) {
    text = text.trim();
    if (ftype === "int") { var n = Number(text); return text !== "" && isFinite(n) ? n : text; }
    if (ftype === "attribute") {
      if (text === "true") return true;
      if (text === "false") return false;
      if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    }
    return text;
  };
  Builder.prototype.fieldParts = function (cond, done) {
    var self = this, parts = [];
    var ftype = this.fieldType(cond.field);
    var fields = (this.config.fields || []).map(function (f) { return {value: f.value, label: f.label}; });
    fields.push({value: "attributes.", label: this.label("custom_attribute")});
    parts.push(this.select(fields, ftype === "attribute" ? "attributes." : cond.field, function (v) {
      cond.field = v === "attributes." ? "attributes.key" : v;
      var ops = (self.config.field_ops[self.fieldType(cond.field)] || []).map(function (o) { return o.value; });
      if (ops.indexOf(cond.op) < 0) cond.op = ops[0];
      self.tidy(cond);
      done(true);
    }, {"data-testid": "builder-field"}));
    if (ftype === "attribute") {
      parts.push(this.input(cond.field.slice(11), function (v) { cond.field = "attributes." + v.trim(); done(false); },
        {placeholder: this.label("attribute_key"), style: "width:9rem"}));
    }
    parts.push(this.select(this.config.field_ops[ftype] || [], cond.op, function (v) { cond.op = v; self.tidy(cond); done(true); }, {"data-testid": "builder-op"}));
    var op = cond.op;
    if (op === "exists") return parts;
    if (op === "between") return parts.concat(this.betweenParts(cond, done));
    if (op === "gt" || op === "lt" || op === "within_days") {
      parts.push(this.number(cond.value, function (v) { cond.value = v === undefined ? "" : v; done(false); }));
      if (op === "within_days") parts.push(this.text(this.label("days")));
      return parts;
    }
    if (op === "before" || op === "after") return parts.concat([this.dateInput(cond, done)]);
    if (cond.field === "gender" && op === "eq") {
      parts.push(this.select(this.config.genders || [], cond.value, function (v) { cond.value = Number(v); done(false); }));
      return parts;
    }
    if (cond.field === "gender") {
      parts.push(this.multi(this.config.genders || [], cond.value, function (v) { cond.value = v; done(false); }));
      return parts;
    }
    if (op === "in" || op === "not_in") {
      parts.push(this.input(Array.isArray(cond.value) ? cond.value.join(", ") : cond.value, function (v) {
        cond.value = v.split(/[,，]/).map(function (s) { return s.trim(); }).filter(Boolean).map(function (s) { return self.typedScalar(s, ftype); });
        done(false);
      }, {placeholder: this.label("values_hint"), style: "width:16rem"}));
      return parts;
    }
    parts.push(this.input(cond.value, function (v) { cond.value = op === "contains" ? v : self.typedScalar(v, ftype); done(false); },
      {placeholder: this.label("value"), style: "width:14rem", "data-testid": "builder-value"}));
    return parts;
  };

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
