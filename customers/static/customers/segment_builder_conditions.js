/* The segment builder's condition editors (see segment_builder.js): defaults for a new condition,
 * tidying when an operator changes a menu, and the controls of each condition type of the rule
 * language. Loaded after segment_builder.js; extends its Builder before the page boots it.
 */
(function () {
  "use strict";

  var Builder = window.ScrmSegmentBuilder.Builder;
  var el = window.ScrmSegmentBuilder.el;

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
        parts.push(this.multi(this.idChoices(o.tags), cond.tags, function (v) { cond.tags = v; done(false); },
          {"data-testid": "builder-tags-select", title: this.label("multi_hint")}), this.text(this.label("multi_hint")));
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
})();
