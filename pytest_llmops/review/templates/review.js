// The review page: one case at a time, labelled from the keyboard, saved as JSON Lines.
// Every model-written string reaches the page through textContent, never as markup, and the
// page's Content-Security-Policy allows this script alone and no network at all.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("review-data").textContent);
  var cases = data.cases;
  var storeKey = "llmops-review:" + data.export_id;
  var state = loadState();
  var position = firstUnlabelled();
  var noteBox = document.getElementById("note");
  var reviewerBox = document.getElementById("reviewer");

  function loadState() {
    try {
      var saved = JSON.parse(window.localStorage.getItem(storeKey) || "null");
      if (saved && typeof saved === "object" && saved.labels) { return saved; }
    } catch (e) { /* private mode or a damaged entry: start afresh */ }
    return {reviewer: "", labels: {}};
  }

  function persist() {
    try { window.localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* not fatal */ }
  }

  function keyId(item) {
    var k = item.key;
    return [k.suite, k["case"], k.model, k.fingerprint, k.output_sha256].join("\u0000");
  }

  function firstUnlabelled() {
    for (var i = 0; i < cases.length; i++) {
      if (!state.labels[keyId(cases[i])]) { return i; }
    }
    return 0;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function section(parent, title, text, className) {
    if (text === undefined || text === null || text === "") { return; }
    var box = el("section", "part " + (className || ""));
    box.appendChild(el("h3", null, title));
    box.appendChild(el("pre", null, text));
    parent.appendChild(box);
  }

  function countLabelled() {
    return cases.filter(function (item) { return !!state.labels[keyId(item)]; }).length;
  }

  function render() {
    var item = cases[position];
    var view = document.getElementById("case");
    view.textContent = "";
    document.getElementById("progress").textContent =
      "case " + (position + 1) + " of " + cases.length + " \u00b7 " + countLabelled() + " labelled";
    if (!item) { view.appendChild(el("p", null, "No case to review in this export.")); return; }
    var head = el("div", "head");
    head.appendChild(el("span", "suite", item.key.suite));
    head.appendChild(el("span", "case-id", item.key["case"]));
    head.appendChild(el("span", "reason reason-" + item.reason.replace(/\W+/g, "-"), item.reason));
    head.appendChild(el("span", "model", item.key.model));
    view.appendChild(head);
    var current = state.labels[keyId(item)];
    var badge = el("div", "current " + (current ? "label-" + current.label : "label-none"),
                   current ? "your label: " + current.label : "not labelled yet");
    badge.id = "current-label";
    view.appendChild(badge);
    section(view, "System prompt" + (item.prompt_version ? " (template " + item.prompt_version + ")" : ""),
            item.system);
    item.messages.forEach(function (m) { section(view, "Input (" + m.role + ")", m.content, "input"); });
    item.contexts.forEach(function (c, i) { section(view, "Context [" + (i + 1) + "]", c, "context"); });
    section(view, "Output", item.output, "output");
    section(view, "Baseline's answer", item.baseline_output, "baseline");
    var verdicts = el("section", "part verdicts");
    verdicts.appendChild(el("h3", null, "Automatic verdicts (outcome: " + item.outcome + ")"));
    var list = el("ul");
    Object.keys(item.verdicts).forEach(function (source) {
      list.appendChild(el("li", item.verdicts[source] ? "pass" : "fail",
                          source + ": " + (item.verdicts[source] ? "pass" : "fail")));
    });
    Object.keys(item.flips).forEach(function (metric) {
      list.appendChild(el("li", "flip", "flip vs baseline: " + metric + " " + item.flips[metric]));
    });
    item.evidence.forEach(function (line) { list.appendChild(el("li", "evidence", line)); });
    verdicts.appendChild(list);
    view.appendChild(verdicts);
    noteBox.value = current ? current.note : "";
  }

  function label(value) {
    var item = cases[position];
    if (!item) { return; }
    var previous = state.labels[keyId(item)];
    state.labels[keyId(item)] = {
      label: value, note: noteBox.value || (previous ? previous.note : ""),
      labelled_at: new Date().toISOString()
    };
    persist();
    move(1);
  }

  function move(step) {
    position = Math.max(0, Math.min(cases.length - 1, position + step));
    render();
  }

  function labelLines() {
    var reviewer = (reviewerBox.value || "").trim();
    return cases.filter(function (item) { return !!state.labels[keyId(item)]; }).map(function (item) {
      var given = state.labels[keyId(item)];
      var line = {};
      Object.keys(item.key).forEach(function (k) { line[k] = item.key[k]; });
      line.label = given.label;
      line.note = given.note;
      line.reviewer = reviewer;
      line.labelled_at = given.labelled_at;
      return JSON.stringify(line);
    });
  }

  function save() {
    var reviewer = (reviewerBox.value || "").trim();
    var status = document.getElementById("status");
    if (!reviewer) {
      status.textContent = "Type your name in the reviewer box first (r), then save (s).";
      reviewerBox.focus();
      return;
    }
    var lines = labelLines();
    var blob = new Blob([lines.join("\n") + (lines.length ? "\n" : "")], {type: "application/x-ndjson"});
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "labels-" + reviewer.replace(/[^A-Za-z0-9_.-]+/g, "_") + "-" + data.export_id + ".jsonl";
    document.body.appendChild(link);
    link.click();
    link.remove();
    status.textContent = "saved " + lines.length + " labels as " + link.download;
  }

  reviewerBox.value = state.reviewer || "";
  reviewerBox.addEventListener("input", function () { state.reviewer = reviewerBox.value; persist(); });

  document.addEventListener("keydown", function (event) {
    var typing = event.target === noteBox || event.target === reviewerBox;
    if (typing) {
      // Enter or Escape leaves the box; Shift+Enter is a new line in the note.
      if (event.key === "Escape" || (event.key === "Enter" && !event.shiftKey)) {
        event.preventDefault();
        event.target.blur();
        if (event.target === noteBox) {
          var item = cases[position];
          var given = item && state.labels[keyId(item)];
          if (given) { given.note = noteBox.value; persist(); }
        }
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var handled = true;
    switch (event.key) {
      case "p": label("pass"); break;
      case "f": label("fail"); break;
      case "u": label("unsure"); break;
      case "j": case "ArrowRight": case "ArrowDown": move(1); break;
      case "k": case "ArrowLeft": case "ArrowUp": move(-1); break;
      case "g": position = firstUnlabelled(); render(); break;
      case "n": noteBox.focus(); break;
      case "r": reviewerBox.focus(); break;
      case "s": save(); break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  render();
}());
