// Progressive enhancement: hide items whose show_if condition is false. Without JavaScript every
// item is shown with a note, and the server drops answers to items that do not apply.
(function () {
  "use strict";
  var form = document.querySelector("form");
  if (!form) { return; }
  function valueOf(name) {
    var fields = form.querySelectorAll("[name='" + name + "']");
    if (!fields.length) { return undefined; }
    var first = fields[0];
    if (first.type === "checkbox") {
      return Array.prototype.filter.call(fields, function (f) { return f.checked; }).map(function (f) { return f.value; });
    }
    if (first.type === "radio") {
      var checked = Array.prototype.find.call(fields, function (f) { return f.checked; });
      return checked ? checked.value : undefined;
    }
    return first.value === "" ? undefined : first.value;
  }
  function num(v) { var n = Number(v); return isNaN(n) ? v : n; }
  function evaluate(c) {
    if (c.all) { return c.all.every(evaluate); }
    if (c.any) { return c.any.some(evaluate); }
    if (c.not) { return !evaluate(c.not); }
    var v = valueOf(c.item);
    var answered = v !== undefined && !(Array.isArray(v) && v.length === 0);
    if (c.op === "answered") { return answered; }
    if (c.op === "not_answered") { return !answered; }
    if (!answered) { return false; }
    var a = Array.isArray(v) ? v : num(v), b = c.value;
    switch (c.op) {
      case "eq": return a == b;
      case "ne": return a != b;
      case "lt": return a < b;
      case "le": return a <= b;
      case "gt": return a > b;
      case "ge": return a >= b;
      case "in": return b.indexOf(a) !== -1;
      case "not_in": return b.indexOf(a) === -1;
      case "contains": return Array.isArray(a) && a.indexOf(b) !== -1;
    }
    return true;
  }
  function refresh() {
    document.querySelectorAll("[data-show-if]").forEach(function (el) {
      var show = evaluate(JSON.parse(el.getAttribute("data-show-if")));
      el.classList.toggle("is-hidden", !show);
      el.querySelectorAll(".conditional").forEach(function (n) { n.classList.add("is-hidden"); });
    });
  }
  form.addEventListener("change", refresh);
  refresh();
}());
