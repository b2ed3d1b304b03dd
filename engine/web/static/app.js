// Rostering Advisor's pages work without this script; with it, the questionnaire's standing follows
// every answer (announced through its live region) and the playground re-evaluates on each toggle
// and reloads itself when the rules or templates on disk change (serve --reload).
"use strict";
(function () {
  var answers = document.getElementById("answers");
  var standing = document.getElementById("standing");
  if (answers && standing) {
    var timer = null;
    var asked = 0;
    var update = function () {
      var mine = ++asked;
      fetch("/standing", { method: "POST", body: new URLSearchParams(new FormData(answers)) })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (mine === asked) standing.innerHTML = html;  // the server escaped every value in it
        })
        .catch(function () {});
    };
    var soon = function () {
      clearTimeout(timer);
      timer = setTimeout(update, 120);
    };
    answers.addEventListener("change", soon);
    answers.addEventListener("input", soon);
  }

  var toggles = document.getElementById("toggles");
  if (toggles) toggles.addEventListener("change", function () { toggles.requestSubmit(); });
  var example = document.getElementById("example");
  if (example) example.addEventListener("change", function () { example.form.requestSubmit(); });

  var status = document.getElementById("rules-status");
  if (status && status.dataset.reload === "1") {
    setInterval(function () {
      fetch("/healthz")
        .then(function (response) { return response.json(); })
        .then(function (health) {
          if (health.state !== status.dataset.state) location.reload();
        })
        .catch(function () {});
    }, 700);
  }

  var errors = document.getElementById("errors");
  if (errors) errors.focus();
})();
