// Gatehouse WebAuthn: registers and uses passkeys / security keys.
// Elements opt in with data-webauthn="register" (a form) or "authenticate" (a
// button), naming the JSON endpoints and the CSRF token in data attributes.
// The server keeps the ceremony state; this file only converts between the
// JSON the server speaks (base64url strings) and the browser's ArrayBuffers.
(function () {
  "use strict";

  function b64urlToBuf(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function showError(el, text) {
    var box = document.getElementById("webauthn-error");
    if (box) {
      box.textContent = text;
      box.hidden = false;
    }
    if (el) el.disabled = false;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok || j.error) throw new Error(j.error || "The request failed.");
        return j;
      });
    });
  }

  function follow(j) {
    var list = document.getElementById("new-codes");
    if (j.codes && list) {
      j.codes.forEach(function (c) {
        var li = document.createElement("li");
        var code = document.createElement("code");
        code.textContent = c;
        li.appendChild(code);
        list.appendChild(li);
      });
      document.getElementById("new-codes-panel").hidden = false;
      return;
    }
    if (j.redirect) window.location.assign(j.redirect);
    else window.location.reload();
  }

  function register(form) {
    var button = form.querySelector("button[type=submit]");
    var nameField = form.querySelector("input[name=name]");
    var csrf = form.dataset.csrf;
    button.disabled = true;
    post(form.dataset.optionsUrl, { csrf_token: csrf })
      .then(function (j) {
        var pk = j.options.publicKey;
        pk.challenge = b64urlToBuf(pk.challenge);
        pk.user.id = b64urlToBuf(pk.user.id);
        (pk.excludeCredentials || []).forEach(function (c) {
          c.id = b64urlToBuf(c.id);
        });
        return navigator.credentials.create({ publicKey: pk }).then(function (cred) {
          var body = {
            id: cred.id,
            rawId: bufToB64url(cred.rawId),
            type: cred.type,
            response: {
              attestationObject: bufToB64url(cred.response.attestationObject),
              clientDataJSON: bufToB64url(cred.response.clientDataJSON),
              transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
            },
            extensions: cred.getClientExtensionResults(),
          };
          return post(form.dataset.finishUrl, { csrf_token: csrf, token: j.token, name: nameField ? nameField.value : "", credential: body });
        });
      })
      .then(follow)
      .catch(function (e) {
        showError(button, "The passkey was not added: " + e.message);
      });
  }

  function authenticate(button) {
    var csrf = button.dataset.csrf;
    button.disabled = true;
    post(button.dataset.optionsUrl, { csrf_token: csrf })
      .then(function (j) {
        var pk = j.options.publicKey;
        pk.challenge = b64urlToBuf(pk.challenge);
        (pk.allowCredentials || []).forEach(function (c) {
          c.id = b64urlToBuf(c.id);
        });
        return navigator.credentials.get({ publicKey: pk }).then(function (cred) {
          var body = {
            id: cred.id,
            rawId: bufToB64url(cred.rawId),
            type: cred.type,
            response: {
              authenticatorData: bufToB64url(cred.response.authenticatorData),
              clientDataJSON: bufToB64url(cred.response.clientDataJSON),
              signature: bufToB64url(cred.response.signature),
              userHandle: cred.response.userHandle ? bufToB64url(cred.response.userHandle) : null,
            },
            extensions: cred.getClientExtensionResults(),
          };
          return post(button.dataset.finishUrl, { csrf_token: csrf, credential: body });
        });
      })
      .then(follow)
      .catch(function (e) {
        showError(button, "Sign-in with a passkey failed: " + e.message);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential) {
      document.querySelectorAll("[data-webauthn]").forEach(function (el) {
        el.hidden = true;
      });
      return;
    }
    document.querySelectorAll("form[data-webauthn=register]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        register(form);
      });
    });
    document.querySelectorAll("[data-webauthn=authenticate]").forEach(function (button) {
      button.addEventListener("click", function () {
        authenticate(button);
      });
    });
  });
})();
