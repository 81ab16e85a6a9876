// labhooks dashboard: the few things forms cannot do alone. Everything works
// without this file; it adds a secret generator, a strength indicator and
// copy buttons.
(function () {
  "use strict";

  // The server's rules (labhooks.ValidateSecret), mirrored for feedback
  // while typing; the server stays the judge.
  function strength(s) {
    if (s === "") return ["", "Empty: labhooks generates a strong secret for you."];
    if (/[^\x21-\x7e]/.test(s)) return ["weak", "Only printable ASCII without spaces can travel in the x-api-key header."];
    if (s.length < 24) return ["weak", "Too short: " + s.length + " of at least 24 characters."];
    if (s.length > 256) return ["weak", "Too long: at most 256 characters."];
    var counts = {}, distinct = 0, most = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s[i];
      counts[c] = (counts[c] || 0) + 1;
      if (counts[c] === 1) distinct++;
      if (counts[c] > most) most = counts[c];
    }
    if (distinct < 10 || most * 4 > s.length) return ["weak", "Too easy to guess: use more different characters."];
    if (s.length >= 40 && distinct >= 20) return ["strong", "Strong secret."];
    return ["fair", "Acceptable; a longer secret is stronger."];
  }

  function showStrength(input) {
    var out = document.getElementById(input.dataset.strength);
    if (!out) return;
    var r = strength(input.value.trim());
    out.textContent = r[1];
    out.className = "strength" + (r[0] ? " strength-" + r[0] : "");
  }

  // generate makes a secret in the Standard Webhooks form, like the server's.
  function generate() {
    var b = new Uint8Array(32);
    crypto.getRandomValues(b);
    var bin = "";
    for (var i = 0; i < b.length; i++) bin += String.fromCharCode(b[i]);
    return "whsec_" + btoa(bin);
  }

  document.querySelectorAll("[data-strength]").forEach(function (input) {
    input.addEventListener("input", function () { showStrength(input); });
    showStrength(input);
  });

  document.querySelectorAll("[data-generate]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById(btn.dataset.generate);
      input.value = generate();
      showStrength(input);
      input.focus();
      input.select();
    });
  });

  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById(btn.dataset.copy);
      input.select();
      var done = function () { btn.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });

  // After a test, bring its result into view for keyboard and screen
  // reader users.
  var result = document.getElementById("test-result");
  if (result) {
    result.focus({ preventScroll: true });
    result.scrollIntoView({ block: "center" });
  }
})();
